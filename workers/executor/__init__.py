"""The migration executor: fence → preflight → migrate → watch → fallback ladder → verify.

``machine.Executor`` drives one move (``preflight``, ``watch``, ``verify``; shared state in
``move``) through a ``hypervisor.Hypervisor`` (libvirt in ``libvirt_hv`` with
``libvirt_calls`` and ``libvirt_fit``; in memory in ``simulated`` with ``sim_vm`` and
``sim_run``). Before every libvirt action the ``fence`` checks, in one Redis script, that
the move is not cancelled and its leader's epoch is current, and takes or keeps the VM's
lease; ``coordination`` holds the host/cluster slots; ``records`` publishes progress and
the migration records; ``redis_edge`` turns Redis errors into the error tree. What a task
carries is in ``order``.
"""
