"""The control loop: what kvm-balancer decides each interval, and the ports it acts through.

Pure (DESIGN.md §6): no Redis, libvirt, Celery, clock or randomness here. The daemon
(``balancer.daemon``) drives the loop through Redis/Celery ports, the simulator
(``balancer.sim``) through in-memory ones; both run the same ``decide()``.

    loop.py          run_cycle(ports, settings): one cycle through the ports
    ports.py         the small Protocols between the loop and the world
    memory_ports.py  an in-memory implementation of each port
    cycle.py         decide(situation, memory, settings) -> Decision: one complete plan
    situation.py     what a cycle knows (snapshot, history, busy VMs, intents)
    settings.py      ControlSettings: every window and interval in seconds
    memory.py        CycleMemory: what the cycle remembers (JSON), power bookkeeping
    records.py       what a cycle leaves behind (CycleRecord) and what is in flight
    intents.py       the operators' durable intents (evacuations, pause) as values
    evacuations.py   evacuation bookkeeping (created, counted, done, cancelled)
    scope.py         what an intent may touch; proposal.py: what it proposes
      evacuation.py    1. empty hosts in maintenance/draining or named by an evacuation
      capacity.py      2. power on before the active hosts run out of headroom
      relief.py        3. relieve overloaded hosts
      balance.py       4. even out the CPU spread
      consolidation.py 5. drain hosts when it saves enough power per migration
      replacement.py      replace inefficient hosts by efficient off ones
      idle.py             power idle hosts off
    power_rules.py   minimum on/off times, daily power-cycle budget, boot time
    power.py         host power from the tables; cost per core
    forecast.py      each VM's demand from its own past
    subset.py        the snapshot a decision hands to plan()
    hosts.py         utilization, capacity per watt, spares
    figures.py       active hosts, lower bound, spread, power (for the cycle record)
"""
