"""Order the moves into waves that respect the migration slots and free room first.

Replays the moves from the snapshot's placement. A wave takes, in priority order
(``RANK``: evacuations first, then relief, balance, energy saving), each pending move
whose source has an outbound slot, whose destination has an inbound slot and which the
registered placement constraints accept at that point (room, counting what already
arrives in this wave; no VM it must stay apart from; any rule registered), those
checked when the plan ends aside (a group joins over several waves); at most the
cluster cap. Sources are freed when the wave ends, so a move that frees room lands in
an earlier wave than the move that needs it. Power-ons
take wave 0; a host is powered off in the wave after its last VM left. Moves that no
wave can take (a cycle of hosts each waiting for the other's room) and moves beyond
``max_migrations`` are returned as left over.

A move refused by a constraint whose refusal only a VM leaving the destination can lift
(``UNBLOCKED_BY = "leave"``: room, anti-affinity) is parked on its destination and asked
again, in its place in the priority order, in the wave after a VM has left that host;
until then it would be refused, so the waves are those of asking every move every wave.
A constraint that does not declare it is asked for every pending move every wave.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from balancer.core.cluster import ClusterState, IntArray
from balancer.core.filters import placement_constraints
from balancer.core.filters.base import PlacementConstraint, unblocked_by
from balancer.core.plan import MoveReason
from balancer.core.planning import Planning

#: Which moves take a wave's slots first: the intents' priority (evacuations first).
RANK: dict[MoveReason | None, int] = {
    MoveReason.OPERATOR: 0,
    MoveReason.EVACUATION: 0,
    MoveReason.RELIEF: 1,
    MoveReason.BALANCE: 2,
    MoveReason.CONSOLIDATION: 3,
    MoveReason.REPLACEMENT: 3,
}


@dataclass(frozen=True, slots=True)
class Scheduled:
    vm: int
    source: int
    dest: int
    wave: int


@dataclass(frozen=True, slots=True)
class Ordering:
    moves: tuple[Scheduled, ...]
    #: VMs whose move could not be ordered (cycle) — their VMs stay.
    deadlocked: tuple[int, ...]
    #: VMs whose move was cut by ``max_migrations``.
    over_budget: tuple[int, ...]


def order_moves(p: Planning, budget: int | None) -> Ordering:
    s = p.state
    final = s.vm_host.copy()
    s.restore(p.initial)
    slots = p.policy.slots
    checks = tuple(c for c in placement_constraints() if c.CHECKED != "end")
    parks = {c.NAME for c in checks if unblocked_by(c) == "leave"}
    pending = [int(v) for v in range(len(s.vms)) if final[v] != s.vm_host[v]]
    pending.sort(key=lambda v: (RANK.get(_reason(p, v), len(RANK)), v))
    rank = {v: i for i, v in enumerate(pending)}.__getitem__
    #: Per destination, the moves refused there until a VM leaves it (in rank order).
    parked: dict[int, list[int]] = {}
    scheduled: list[Scheduled] = []
    over_budget: list[int] = []
    wave = 1
    while pending or parked:
        outbound: Counter[int] = Counter()
        inbound: Counter[int] = Counter()
        arriving: list[int] = []
        later: list[int] = []
        rest: list[int] = []  # cut by the budget
        last = -1  # the rank of this wave's last scheduled move
        for i, v in enumerate(pending):
            if budget is not None and len(scheduled) >= budget:
                rest = pending[i:]
                break
            if len(arriving) >= slots.cluster:
                later.extend(pending[i:])
                break
            src, dst = s.host_of(v), int(final[v])
            if outbound[src] >= slots.outbound_per_host or inbound[dst] >= slots.inbound_per_host:
                later.append(v)
                continue
            refused = _refusal(p, checks, v, dst)
            if refused is not None:
                (parked.setdefault(dst, []) if refused in parks else later).append(v)
                continue
            # Memory and CPU are taken on the destination from the start of the wave.
            s.used_cpu[dst] += s.vm_cpu[v]
            s.used_mem[dst] += s.vm_mem[v]
            outbound[src] += 1
            inbound[dst] += 1
            arriving.append(v)
            last = rank(v)
            scheduled.append(Scheduled(v, src, dst, wave))
        if budget is not None and len(scheduled) >= budget:
            # The parked moves after this wave's last one in the priority order are cut too.
            cut = [v for moves in parked.values() for v in moves if rank(v) > last]
            over_budget.extend(sorted([*rest, *cut], key=rank))
            parked = _before(parked, rank, last)
        if not arriving:
            stuck = [*later, *(v for moves in parked.values() for v in moves)]
            return Ordering(tuple(scheduled), tuple(sorted(stuck, key=rank)), tuple(over_budget))
        released = _land(s, final, arriving, parked)
        pending = sorted([*later, *released], key=rank) if released else later
        wave += 1
    return Ordering(tuple(scheduled), (), tuple(over_budget))


def _land(
    s: ClusterState, final: IntArray, arriving: list[int], parked: dict[int, list[int]]
) -> list[int]:
    """Move the wave's VMs (their room was taken at its start); return the parked moves
    whose destination a VM has left, which are asked again."""
    released: list[int] = []
    for v in arriving:
        dst = int(final[v])
        s.used_cpu[dst] -= s.vm_cpu[v]
        s.used_mem[dst] -= s.vm_mem[v]
        released.extend(parked.pop(s.host_of(v), ()))
        s.move(v, dst)
    return released


def _before(
    parked: dict[int, list[int]], rank: Callable[[int], int], last: int
) -> dict[int, list[int]]:
    """The parked moves ranked before ``last``."""
    kept = {h: [v for v in moves if rank(v) < last] for h, moves in parked.items()}
    return {h: moves for h, moves in kept.items() if moves}


def _reason(p: Planning, v: int) -> MoveReason | None:
    why = p.move_reason.get(v)
    return None if why is None else why[0]


def _refusal(p: Planning, checks: tuple[PlacementConstraint, ...], v: int, dst: int) -> str | None:
    """The name of the first constraint that refuses ``dst`` for VM ``v`` now, or ``None``."""
    vm, dest = p.state.vms[v], p.state.hosts[dst]
    for c in checks:
        if not c.check(vm, dest, p.fctx).ok:
            return c.NAME
    return None
