"""The simulated executor: carries out a plan's moves within one interval.

Each move takes the time the pre-copy model gives for the VM as it is (its memory, its
dirty rate, the hosts' bandwidth: ``balancer.core.migration_model.estimate``). Waves run
one after the other (a wave may need room the previous one frees); within a wave a move
starts as soon as its source has an outbound slot, its destination an inbound slot and
the cluster a slot (``Policy.slots``). A move that could not end before the interval
does is not started, nor is any move of a later wave: the next cycle plans again from
where the VMs are.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass

from balancer.core.migration_model import estimate
from balancer.core.models import Policy, Snapshot
from balancer.core.plan import Move, Plan


@dataclass(frozen=True, slots=True)
class Migration:
    vm: str
    source: str
    dest: str
    #: Seconds after the interval began.
    start_s: float
    duration_s: float
    downtime_ms: float
    bytes: int
    mode: str

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Execution:
    migrations: tuple[Migration, ...]
    #: VMs whose planned move did not fit in the interval.
    deferred: tuple[str, ...]


#: The key of the cluster-wide slot pool.
_CLUSTER = "cluster"


class _Slots:
    """Per-key pools of slots, each slot known by when it is free again."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._free: dict[str, list[float]] = defaultdict(list)

    def earliest(self, key: str) -> float:
        pool = self._free[key]
        return pool[0] if len(pool) >= self._size else 0.0

    def take(self, key: str, until: float) -> None:
        pool = self._free[key]
        if len(pool) >= self._size:
            heapq.heapreplace(pool, until)
        else:
            heapq.heappush(pool, until)


def execute(plan: Plan, snapshot: Snapshot, policy: Policy, window_s: float) -> Execution:
    vms = {v.name: v for v in snapshot.vms}
    hosts = {h.name: h for h in snapshot.hosts}
    slots = policy.slots
    outbound, inbound = _Slots(slots.outbound_per_host), _Slots(slots.inbound_per_host)
    cluster = _Slots(slots.cluster)
    done: list[Migration] = []
    waves: dict[int, list[Move]] = defaultdict(list)
    for m in plan.moves:
        waves[m.wave].append(m)
    ready = 0.0
    deferred: list[str] = []
    for wave in sorted(waves):
        if deferred:
            deferred.extend(m.vm for m in waves[wave])
            continue
        ends = [ready]
        for m in waves[wave]:
            est = estimate(vms[m.vm], hosts[m.source], hosts[m.to], policy)
            start = max(
                ready,
                outbound.earliest(m.source),
                inbound.earliest(m.to),
                cluster.earliest(_CLUSTER),
            )
            end = start + est.duration_s
            if end > window_s:
                deferred.append(m.vm)
                continue
            outbound.take(m.source, end)
            inbound.take(m.to, end)
            cluster.take(_CLUSTER, end)
            ends.append(end)
            done.append(
                Migration(
                    vm=m.vm,
                    source=m.source,
                    dest=m.to,
                    start_s=start,
                    duration_s=est.duration_s,
                    downtime_ms=est.downtime_ms,
                    bytes=est.bytes,
                    mode=est.mode,
                )
            )
        ready = max(ends)
    return Execution(tuple(done), tuple(deferred))
