"""The migration executor: preflight → migrate → watch → fallback ladder → verify.

``machine.Executor`` drives one move (``preflight``, ``watch``, ``verify``; shared state in
``move``) through a ``hypervisor.Hypervisor`` (libvirt in ``libvirt_hv`` with
``libvirt_calls`` and ``libvirt_fit``; in memory in ``simulated`` with ``sim_vm`` and
``sim_run``), holding a per-VM lease and host/cluster slots (``coordination``) and
publishing progress and outcomes to Redis (``records``).
"""
