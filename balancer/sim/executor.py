"""The simulated executor: carries out a plan's moves within one interval.

Each move takes the time the pre-copy model gives for the VM as it is (its memory, its
dirty rate, the hosts' bandwidth: ``balancer.core.migration_model.estimate``). Waves run
one after the other (a wave may need room the previous one frees); within a wave a move
starts as soon as its source has an outbound slot, its destination an inbound slot and
the cluster a slot (``Policy.slots``). A move that could not end before the interval
does is not started, nor is any move of a later wave: the next cycle plans again from
where the VMs are.

Power actions: a power-on is instant, at the interval's start (wave 0, before any move
onto the host); a power-off happens when the host's last VM has left (the end of the
last migration out of it), and is refused if a VM is still there (a move deferred).
``SimulatedSink`` is the executor as the control loop's ``PlanSink``.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass

from balancer.control.records import InFlight
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


@dataclass(frozen=True, slots=True)
class PowerDone:
    host: str
    on: bool
    #: Seconds after the interval began.
    at_s: float


@dataclass(frozen=True)
class Execution:
    migrations: tuple[Migration, ...]
    #: VMs whose planned move did not fit in the interval.
    deferred: tuple[str, ...]
    switches: tuple[PowerDone, ...] = ()
    #: Hosts whose power-off was refused: a VM was still there.
    refused: tuple[str, ...] = ()


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
    return Execution(tuple(done), tuple(deferred), *_power(plan, snapshot, done))


def _power(
    plan: Plan, snapshot: Snapshot, done: list[Migration]
) -> tuple[tuple[PowerDone, ...], tuple[str, ...]]:
    held: dict[str, int] = {}
    for v in snapshot.vms:
        held[v.host] = held.get(v.host, 0) + 1
    left_at: dict[str, float] = {}
    for m in done:
        held[m.source] -= 1
        held[m.dest] = held.get(m.dest, 0) + 1
        left_at[m.source] = max(left_at.get(m.source, 0.0), m.end_s)
    switches: list[PowerDone] = []
    refused: list[str] = []
    for a in plan.power:
        if a.action == "on":
            switches.append(PowerDone(a.host, True, 0.0))
        elif held.get(a.host, 0) == 0:
            switches.append(PowerDone(a.host, False, left_at.get(a.host, 0.0)))
        else:
            refused.append(a.host)
    return tuple(switches), tuple(refused)


class SimulatedSink:
    """The simulated executor as a ``PlanSink``: a plan sent is carried out within the
    interval (``take`` hands over what was done); nothing stays in flight."""

    def __init__(self, policy: Policy, window_s: float) -> None:
        self._policy = policy
        self._window_s = window_s
        self._done = Execution((), ())

    def send(self, plan: Plan, snapshot: Snapshot, epoch: int, plan_id: str) -> int:
        self._done = execute(plan, snapshot, self._policy, self._window_s)
        return len(self._done.migrations) + len(self._done.switches)

    def in_flight(self) -> InFlight:
        return InFlight()

    def cancel(self, vms: frozenset[str], hosts: frozenset[str]) -> int:
        return 0

    def take(self) -> Execution:
        """What the last plan sent did (then nothing, until the next is sent)."""
        done, self._done = self._done, Execution((), ())
        return done
