"""``plan(snapshot, policy) -> Plan``: the pure entry point of the placement core.

No I/O, no clock, no randomness: the time comes in (``now``, default the snapshot's
``taken_at``); the same input gives the same plan. Steps: evacuate the hosts that must
be emptied; run the policy's objective (``balancer.core.objectives.REGISTRY``); order the
moves into waves; price each move with the migration model (with the VM's measured non-zero memory,
``Vm.resident_mib``, when known); say which VMs cannot move and why.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from balancer.core.migration_model import estimate, warnings_for
from balancer.core.models import Policy, Snapshot
from balancer.core.objectives import REGISTRY as OBJECTIVES
from balancer.core.objectives.evacuate import evacuate
from balancer.core.objectives.spread import spread
from balancer.core.ordering import Ordering, order_moves
from balancer.core.plan import (
    Move,
    MoveEstimate,
    Plan,
    PowerAction,
    PowerReason,
    Spread,
    Summary,
    Unmovable,
)
from balancer.core.planning import BoolArray, Planning
from balancer.core.reasons import Reason


def plan(
    snapshot: Snapshot,
    policy: Policy | None = None,
    *,
    now: float | None = None,
    fixed: Collection[str] = (),
    closed: Collection[str] = (),
) -> Plan:
    """``fixed``: VMs that must stay (migrating now); ``closed``: hosts that neither give
    nor take (an operator holds them). Both are reported unmovable with their reason."""
    policy = snapshot.policy if policy is None else policy
    now = snapshot.taken_at if now is None else now
    objective = OBJECTIVES[policy.objective]
    p = Planning(snapshot, policy, now, fixed=fixed, closed=closed)
    before = Before.of(p)

    evacuate(p)
    objective.run(p)
    if objective.LISTS_UNMOVABLE:
        _note_unmovable(p)

    ordering = order_moves(p, policy.max_migrations)
    moves = priced_moves(p, ordering)
    last_wave = max((m.wave for m in moves), default=0)
    power = _power_actions(p, ordering, last_wave)
    return assemble(p, before, moves, power, unmovable_of(p, ordering))


@dataclass(frozen=True, slots=True)
class Before:
    """The figures of the snapshot the summary compares the plan's outcome with."""

    on: BoolArray
    spread: tuple[float, float]
    overloaded: int

    @staticmethod
    def of(p: Planning) -> Before:
        on = p.was_active.copy()
        return Before(on, spread(p.state, on), _overloaded(p, on))


def assemble(
    p: Planning,
    before: Before,
    moves: list[Move],
    power: list[PowerAction],
    unmovable: list[Unmovable],
) -> Plan:
    """The plan document, with its summary (``p.state`` holds the plan's outcome)."""
    on_after = p.accepting.copy()
    for action in power:
        on_after[p.state.host_index[action.host]] = action.action == "on"
    spread_after = spread(p.state, on_after)
    last_wave = max((m.wave for m in moves), default=0)
    summary = Summary(
        objective=p.policy.objective,
        active_hosts_before=int(before.on.sum()),
        active_hosts_after=int(before.on.sum()) + sum(1 if a.action == "on" else -1 for a in power),
        spread_before=Spread(cpu=before.spread[0], memory=before.spread[1]),
        spread_after=Spread(cpu=spread_after[0], memory=spread_after[1]),
        migrations=len(moves),
        waves=last_wave,
        total_bytes=sum(m.estimate.bytes for m in moves),
        total_duration_s=sum(m.estimate.duration_s for m in moves),
        max_downtime_ms=max((m.estimate.downtime_ms for m in moves), default=0.0),
        overloaded_hosts_before=before.overloaded,
        overloaded_hosts_after=_overloaded(p, on_after),
    )
    return Plan(
        generation=p.snapshot.generation,
        taken_at=p.snapshot.taken_at,
        moves=tuple(moves),
        power=tuple(power),
        unmovable=tuple(unmovable),
        summary=summary,
    )


def _overloaded(p: Planning, on: BoolArray) -> int:
    return sum(1 for h in np.flatnonzero(on) if p.state.overloaded(int(h)))


def _note_unmovable(p: Planning) -> None:
    for item in p.items:
        if p.leaving(item):
            continue
        verdict = p.movability(item, evacuating=False)
        if not verdict.ok and verdict.reason is not None:
            p.mark_unmovable(item, verdict.reason, verdict.detail)


def priced_moves(p: Planning, ordering: Ordering) -> list[Move]:
    """The ordered moves, each priced by the migration model, with its reason."""
    s = p.state
    out = []
    for m in ordering.moves:
        vm, src, dst = s.vms[m.vm], s.hosts[m.source], s.hosts[m.dest]
        est = estimate(vm, src, dst, p.policy, resident_mib=vm.resident_mib,
                       link_mib_s=p.links.get((src.name, dst.name)))  # fmt: skip
        reason, detail = p.move_reason.get(m.vm, (OBJECTIVES[p.policy.objective].REASON, ""))
        out.append(
            Move(
                vm=vm.name,
                source=src.name,
                to=dst.name,
                mode=est.mode,
                wave=m.wave,
                reason=reason,
                detail=detail,
                estimate=MoveEstimate(
                    duration_s=round(est.duration_s, 3),
                    downtime_ms=round(est.downtime_ms, 1),
                    bytes=est.bytes,
                    rounds=est.rounds,
                    converges=est.converges,
                ),
                warnings=warnings_for(vm, est),
            )
        )
    return out


def _power_actions(p: Planning, ordering: Ordering, last_wave: int) -> list[PowerAction]:
    s = p.state
    receiving = {m.dest for m in ordering.moves}
    actions = [
        PowerAction(host=s.hosts[h].name, action="on", wave=0, reason=reason, detail=detail)
        for h, (reason, detail) in sorted(p.power_on.items())
        if h in receiving
    ]
    for h in sorted(p.power_on):
        if h not in receiving:
            p.accepting[h] = False
    if not OBJECTIVES[p.policy.objective].POWERS_OFF:
        return actions
    left_in: dict[int, int] = {}
    for m in ordering.moves:
        left_in[m.source] = max(left_in.get(m.source, 0), m.wave)
    for h in (int(x) for x in np.flatnonzero(p.accepting & p.was_active)):
        if s.members[h] or h in p.sources:
            continue
        actions.append(
            PowerAction(
                host=s.hosts[h].name,
                action="off",
                wave=left_in.get(h, 0) + 1,
                reason=PowerReason.CONSOLIDATION if h in left_in else PowerReason.IDLE,
                detail="no VM left; the others hold the load"
                if h in left_in
                else "idle, and the others hold the load",
            )
        )
    return actions


def unmovable_of(p: Planning, ordering: Ordering) -> list[Unmovable]:
    """The VMs that cannot move (planning's verdicts, then the ordering's), by name."""
    s = p.state
    found: dict[int, tuple[Reason, str]] = dict(p.unmovable)
    for v in ordering.deadlocked:
        found.setdefault(v, (Reason.ORDERING, "no order of moves frees room for it"))
    for v in ordering.over_budget:
        found.setdefault(
            v, (Reason.MIGRATION_LIMIT, f"max_migrations ({p.policy.max_migrations}) reached")
        )
    return [
        Unmovable(
            vm=s.vms[v].name,
            host=s.hosts[int(s.original_host[v])].name,
            reason=reason.value,
            detail=detail,
        )
        for v, (reason, detail) in sorted(found.items(), key=lambda kv: s.vms[kv[0]].name)
    ]
