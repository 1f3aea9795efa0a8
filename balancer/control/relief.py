"""Relieve the hosts whose CPU demand is over ``relieve_above`` now.

``plan(balance)`` runs on those hosts and on the hosts at or under ``relieve_to`` (the
hosts in between neither give nor take), with headroom ``1 - relieve_to`` and a move
cost that only relieving an overload outweighs: VMs go from the overloaded hosts to the
hosts with the most room. When the hosts that are on cannot take the load, the off host
with the most capacity per watt is powered on (shown to the planner as on and empty), one
at a time, up to ``max_power_on``, while each one relieves more.
"""

from __future__ import annotations

import msgspec

from balancer.core.models import Host, Policy, Snapshot
from balancer.core.plan import Plan
from balancer.core.planner import plan
from balancer.control.cycle_config import EPS, CycleConfig, CycleMemory, Decision, spares, util
from balancer.control.subset import restrict, under


def relieve(snapshot: Snapshot, over: list[str], memory: CycleMemory, cfg: CycleConfig) -> Decision:
    policy = msgspec.structs.replace(
        snapshot.policy,
        objective="balance",
        headroom=max(0.0, 1.0 - cfg.relieve_to),
        move_cost_per_s=cfg.relief_move_cost_per_s,
    )
    on = [h for h in snapshot.hosts if h.state == "active"]
    off = spares(snapshot.hosts)
    powered: list[Host] = []
    best = _relief_plan(snapshot, on, powered, policy, cfg)
    computed = 1
    while best[1] > EPS and len(powered) < min(cfg.max_power_on, len(off)):
        powered.append(msgspec.structs.replace(off[len(powered)], state="active"))
        candidate = _relief_plan(snapshot, on, powered, policy, cfg)
        computed += 1
        if candidate[1] >= best[1] - EPS:
            powered.pop()
            break
        best = candidate
    result, left = best
    used = {m.to for m in result.moves}
    reason = f"relieve {len(over)} host(s) over {cfg.relieve_above:.0%}: {', '.join(over[:5])}"
    if left > EPS:
        reason += f"; {left:.2f} cores still over after the plan"
    return Decision(
        action="relieve",
        plan=result,
        power_on=tuple(h.name for h in powered if h.name in used),
        reason=reason,
        memory=memory,
        plans_computed=computed,
    )


def _relief_plan(
    snapshot: Snapshot, on: list[Host], powered: list[Host], policy: Policy, cfg: CycleConfig
) -> tuple[Plan, float]:
    """The plan, and the CPU still over ``relieve_above`` once it is carried out."""
    names = [h.name for h in on if util(h) > cfg.relieve_above + EPS or util(h) <= cfg.relieve_to]
    names += [h.name for h in powered]
    view = restrict(snapshot, names, replace_hosts={h.name: h for h in powered})
    result = plan(under(view, policy, cfg.memory_headroom))
    load = {h.name: h.cpu_used for h in view.hosts}
    cpu = {v.name: v.cpu_used for v in view.vms}
    for m in result.moves:
        load[m.source] -= cpu[m.vm]
        load[m.to] += cpu[m.vm]
    left = sum(
        max(0.0, load[h.name] - cfg.relieve_above * h.cpu_capacity_cores) for h in view.hosts
    )
    return result, left
