"""The control loop: what kvm-balancer decides each interval, and the ports it acts through.

Pure (DESIGN.md §6): no Redis, libvirt, Celery, clock or randomness here. The daemon
(``balancer.daemon``) drives the loop through Redis/Celery ports, the simulator
(``balancer.sim``) through in-memory ones; both run the same ``decide()``.

    ports.py      the small Protocols between the loop and the world
    intents.py    the operators' durable intents (evacuations, pause) as values
    records.py    what a cycle leaves behind (``CycleRecord``) and what is in flight
"""
