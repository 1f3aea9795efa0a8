"""Relieve the hosts whose CPU demand is over ``relieve_above`` now (and has been for
``relieve_after_s``).

``plan(balance)`` runs on those hosts and on the hosts at or under ``relieve_to`` (the
hosts in between neither give nor take), with headroom ``1 - relieve_to`` and a move
cost that only relieving an overload outweighs: VMs go from the overloaded hosts to the
hosts with the most room. When the hosts that are on cannot take the load, the off host
with the most capacity per watt is powered on (shown to the planner as on and empty), one
at a time, up to ``max_power_on``, while each one relieves more.
"""

from __future__ import annotations

import msgspec
import numpy as np

from balancer.control.hosts import EPS, util
from balancer.control.proposal import Proposal
from balancer.control.scope import Scope
from balancer.control.subset import restrict, under
from balancer.core.compose import Chosen, Switch
from balancer.core.models import Host, Policy
from balancer.core.plan import MoveReason, Plan, PowerReason
from balancer.core.planner import plan


def overloaded(scope: Scope) -> list[str]:
    """Open hosts over ``relieve_above`` now and, with the VMs they hold now, in each of
    the samples of the ``relieve_after_s`` before (a shorter burst is left alone)."""
    cfg = scope.settings
    over = [h for h in scope.active() if util(h) > cfg.relieve_above + EPS]
    history = scope.history
    back = min(int(cfg.relieve_after_s / scope.step_s + 1e-9), history.shape[1] - 1)
    if not over or back <= 0:
        return [h.name for h in over]
    snapshot = scope.snapshot
    index = {h.name: i for i, h in enumerate(snapshot.hosts)}
    where = np.array([index[v.host] for v in snapshot.vms], dtype=np.int64)
    past = history[:, -1 - back : -1]
    load = np.stack(
        [np.bincount(where, weights=past[:, j], minlength=len(index)) for j in range(back)],
        axis=1,
    )
    return [
        h.name
        for h in over
        if (load[index[h.name]] > cfg.relieve_above * h.cpu_capacity_cores + EPS).all()
    ]


def relieve(scope: Scope, over: list[str], max_power_on: int) -> Proposal:
    cfg = scope.settings
    base = scope.snapshot.policy
    cooldown = base.cooldown_s if cfg.relief_cooldown_s is None else cfg.relief_cooldown_s
    policy = msgspec.structs.replace(
        base,
        objective="balance",
        headroom=max(0.0, 1.0 - cfg.relieve_to),
        move_cost_per_s=cfg.relief_move_cost_per_s,
        cooldown_s=min(base.cooldown_s, cooldown),
    )
    on = scope.active()
    off = scope.spares()
    powered: list[Host] = []
    best = _relief_plan(scope, on, powered, policy)
    computed = 1
    while best[1] > EPS and len(powered) < min(max_power_on, len(off)):
        powered.append(msgspec.structs.replace(off[len(powered)], state="active"))
        candidate = _relief_plan(scope, on, powered, policy)
        computed += 1
        if candidate[1] >= best[1] - EPS:
            powered.pop()
            break
        best = candidate
    result, left = best
    used = {m.to for m in result.moves}
    summary = f"relieve {len(over)} host(s) over {cfg.relieve_above:.0%}: {', '.join(over[:5])}"
    if left > EPS:
        summary += f"; {left:.2f} cores still over after the plan"
    proposal = Proposal.of_plan("relief", result, summary, computed)
    switches = tuple(
        Switch(h.name, "on", PowerReason.RELIEF, f"room for the VMs of {', '.join(over[:3])}")
        for h in powered
        if h.name in used
    )
    return Proposal(
        intent=proposal.intent,
        moves=tuple(
            Chosen(c.vm, c.dest, MoveReason.RELIEF, c.detail, c.source) for c in proposal.moves
        ),
        power=switches,
        unmovable=proposal.unmovable,
        summary=summary,
        plans_computed=computed,
        shortfall=max(0.0, left),
    )


def _relief_plan(
    scope: Scope, on: list[Host], powered: list[Host], policy: Policy
) -> tuple[Plan, float]:
    """The plan, and the CPU still over ``relieve_above`` once it is carried out."""
    cfg = scope.settings
    names = [h.name for h in on if util(h) > cfg.relieve_above + EPS or util(h) <= cfg.relieve_to]
    names += [h.name for h in powered]
    view = restrict(scope.snapshot, names, replace_hosts={h.name: h for h in powered})
    result = plan(under(view, policy, cfg.memory_headroom), fixed=scope.fixed)
    load = {h.name: h.cpu_used for h in view.hosts}
    cpu = {v.name: v.cpu_used for v in view.vms}
    for m in result.moves:
        load[m.source] -= cpu[m.vm]
        load[m.to] += cpu[m.vm]
    left = sum(
        max(0.0, load[h.name] - cfg.relieve_above * h.cpu_capacity_cores) for h in view.hosts
    )
    return result, left
