"""``balancer daemon``: the control loop (``balancer.control``) driven through Redis and
Celery, under a leader lease with a fencing epoch (docs/daemon.md).

    leader.py           the lease and the epoch (the Coordination port)
    redis_snapshots.py  the SnapshotSource port (and moot power records forgotten)
    redis_history.py    the LoadHistory port (per-VM samples by name)
    redis_store.py      the CycleStore port (memory, records, intents; fenced writes)
    celery_sink.py      the PlanSink port (plans sent to the Celery workers, followed)
    clock.py            the Clock port of a real fleet
    runner.py           the process: the elector's thread, a cycle every interval
"""
