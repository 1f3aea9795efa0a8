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
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from balancer.core.filters import placement_constraints
from balancer.core.filters.base import PlacementConstraint
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
    pending = [int(v) for v in range(len(s.vms)) if final[v] != s.vm_host[v]]
    pending.sort(key=lambda v: (RANK.get(_reason(p, v), len(RANK)), v))
    scheduled: list[Scheduled] = []
    over_budget: list[int] = []
    wave = 1
    while pending:
        outbound: Counter[int] = Counter()
        inbound: Counter[int] = Counter()
        arriving: list[int] = []
        later: list[int] = []
        for i, v in enumerate(pending):
            if budget is not None and len(scheduled) >= budget:
                over_budget.extend(pending[i:])
                break
            if len(arriving) >= slots.cluster:
                later.extend(pending[i:])
                break
            src, dst = s.host_of(v), int(final[v])
            if (
                outbound[src] >= slots.outbound_per_host
                or inbound[dst] >= slots.inbound_per_host
                or not _admitted(p, checks, v, dst)
            ):
                later.append(v)
                continue
            # Memory and CPU are taken on the destination from the start of the wave.
            s.used_cpu[dst] += s.vm_cpu[v]
            s.used_mem[dst] += s.vm_mem[v]
            outbound[src] += 1
            inbound[dst] += 1
            arriving.append(v)
            scheduled.append(Scheduled(v, src, dst, wave))
        if not arriving:
            return Ordering(tuple(scheduled), tuple(later), tuple(over_budget))
        for v in arriving:
            dst = int(final[v])
            s.used_cpu[dst] -= s.vm_cpu[v]
            s.used_mem[dst] -= s.vm_mem[v]
            s.move(v, dst)
        pending = later
        wave += 1
    return Ordering(tuple(scheduled), (), tuple(over_budget))


def _reason(p: Planning, v: int) -> MoveReason | None:
    why = p.move_reason.get(v)
    return None if why is None else why[0]


def _admitted(p: Planning, checks: tuple[PlacementConstraint, ...], v: int, dst: int) -> bool:
    vm, dest = p.state.vms[v], p.state.hosts[dst]
    return all(c.check(vm, dest, p.fctx).ok for c in checks)
