"""Power idle hosts off: active hosts holding no VM, when the power rules allow and the
hosts left on still hold the forecast load under ``pack_to`` (never below the capacity
line), the least efficient first."""

from __future__ import annotations

from balancer.control.capacity import load_and_capacity
from balancer.control.hosts import per_watt
from balancer.control.power import FloatArray
from balancer.control.proposal import Proposal
from balancer.control.scope import Scope
from balancer.core.compose import Switch
from balancer.core.plan import PowerReason


def power_off_idle(scope: Scope, demand: FloatArray) -> Proposal | None:
    idle = sorted(
        (h for h in scope.active() if h.name not in scope.holding and h.name in scope.can_off),
        key=lambda h: (per_watt(h), h.name),
    )
    if not idle:
        return None
    cfg = scope.settings
    line = cfg.pack_to if cfg.power_on_above is None else min(cfg.pack_to, cfg.power_on_above)
    load, cap = load_and_capacity(scope, demand)
    chosen: list[Switch] = []
    for h in idle:
        rest = cap - h.cpu_capacity_cores
        if rest <= 0 or load > line * rest:  # one host stays on, and the load fits
            continue
        cap -= h.cpu_capacity_cores
        chosen.append(
            Switch(h.name, "off", PowerReason.IDLE, "no VM, and the others hold the load")
        )
    if not chosen:
        return None
    return Proposal(
        intent="idle",
        power=tuple(chosen),
        summary=f"power off {len(chosen)} idle host(s): {', '.join(s.host for s in chosen[:5])}",
    )
