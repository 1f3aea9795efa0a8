"""What whole-system tests assert after the daemons, workers and fleet ran: read from the
store as an operator's script would (records, cycles, the fleet's placement)."""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from typing import cast

import msgspec
import redis

from balancer.control.records import CycleRecord
from balancer.daemon.celery_sink import read_flight
from balancer.fleet.invariant import placement_problems
from balancer.fleet.store import FleetStore
from balancer.state.keys import Keys
from balancer.state.migrations import MigrationRecord, decode_record, list_migrations, plan_results
from balancer.state.snapshot_read import snapshot_from_redis

KEYS = Keys()
ENDED = {"completed", "failed", "fenced", "cancelled"}


def cycles(client: redis.Redis) -> list[CycleRecord]:
    """Every cycle the daemons recorded, oldest first."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(KEYS.cycles))
    return [msgspec.json.decode(f[b"cycle"], type=CycleRecord) for _id, f in entries]


def every_outcome(client: redis.Redis) -> list[MigrationRecord]:
    """Every ended record as written (a task recorded twice appears twice)."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(KEYS.outcomes))
    return [decode_record(f[b"outcome"]) for _id, f in entries]


def overlapping(records: list[MigrationRecord]) -> list[str]:
    """VMs with two migrations that ran at the same time (fenced and cancelled ones never
    ran)."""
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in records:
        if r.result in ("completed", "failed") and r.finished_at is not None:
            spans[r.vm].append((r.started_at, r.finished_at))
    bad = []
    for vm, s in spans.items():
        s.sort()
        if any(b[0] < a[1] for a, b in itertools.pairwise(s)):
            bad.append(vm)
    return bad


def twice_completed(client: redis.Redis) -> list[str]:
    """Migration ids that completed more than once (a move that ran twice)."""
    counts = Counter(r.id for r in every_outcome(client) if r.result == "completed")
    return [i for i, n in counts.items() if n > 1]


def fleet_problems(client: redis.Redis, vms: int, settle_s: float = 15.0) -> list[str]:
    """Every VM on exactly one simulated host, and once in the snapshot. Hosts report one
    after the other: a VM that just landed is in neither report until its new host's
    next one, so the snapshot is given ``settle_s`` (real) to show every VM."""
    problems = placement_problems(FleetStore(client, KEYS))
    deadline = time.monotonic() + settle_s
    while True:
        snapshot = snapshot_from_redis(client, keys=KEYS, now=0.0)
        names = Counter(v.name for v in snapshot.vms)
        if len(names) == vms or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if len(names) != vms:
        problems.append(f"the snapshot holds {len(names)} VMs, not {vms}")
    return problems


def flight_pending(client: redis.Redis) -> tuple[str, int, int]:
    """The plan in flight: its id, its moves not yet taken up, and those running."""
    doc = read_flight(client, KEYS)
    if doc is None:
        return "", 0, 0
    results = plan_results(client, KEYS, doc.plan_id)
    ids = list(doc.moves.values())
    queued = sum(1 for i in ids if i not in results)
    running = sum(1 for i in ids if results.get(i) == "running")
    return doc.plan_id, queued, running


def quiet(client: redis.Redis) -> bool:
    """Nothing queued or running: the plan in flight (if any) has ended."""
    _plan, queued, running = flight_pending(client)
    return queued == 0 and running == 0 and not client.hlen(KEYS.running)


def migrations(client: redis.Redis) -> list[MigrationRecord]:
    return list_migrations(client, KEYS)
