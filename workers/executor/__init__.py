"""The migration executor: preflight → migrate → watch → fallback ladder → verify.

``machine.Executor`` drives one move through a ``hypervisor.Hypervisor`` (libvirt in
``libvirt_hv``, in memory in ``simulated``), holding a per-VM lease and host/cluster slots
(``coordination``) and publishing progress and outcomes to Redis (``records``).
"""
