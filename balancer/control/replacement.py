"""Replace: move the VMs of the least efficient hosts that are on to efficient hosts
that are off, when the power saved pays for the migrations over a horizon.

A drain (``balancer.control.consolidation``) saves power because the load is low now; the
load may come back within the hour, so a drain must save ``min_watts_per_move`` per
migration at once. A replacement saves power because another host does the same work
for less: the saving holds at any load, for as long as the hosts stay on. It is taken
when the power saved, counted over ``replace_horizon_s``, is worth what the drain rule
asks of each migration for an hour (``min_watts_per_move`` x 1 h). A fleet of HP G4s
(39 W per core at 75 %) then gives way to G5s (32 W per core), which the 4 W rule alone
never allows (1 to 2 W saved per migration).

1. Cost of a host: its power at ``pack_to`` per core it then carries. Hosts that are
   on and cost more than the best off host (and are not overloaded by forecast: those
   are relief's business) are candidates, the costliest first.
2. Take candidates while their VMs number at most ``max_moves`` and take at most
   ``max_migration_s`` to migrate.
3. ``plan(evacuate)`` them onto the efficient hosts that are on (at most ``pack_to``)
   and, as off hosts the planner powers on when nothing else fits, as many of the best
   off hosts as their load needs, plus one.
4. Accept if every VM finds a place and the saving clears the bar above.
"""

from __future__ import annotations

import math

from balancer.control.consolidation import (
    TOLERANCE,
    Held,
    forecast_view,
    held_by_host,
    packing,
    saving_w,
)
from balancer.control.hosts import EPS
from balancer.control.power import FloatArray, cost_w_per_core
from balancer.control.proposal import Proposal
from balancer.control.scope import Scope
from balancer.control.settings import ControlSettings
from balancer.core.models import Host
from balancer.core.planner import plan


def replace(scope: Scope, demand: FloatArray) -> Proposal | None:
    """A replacement worth doing, else ``None``."""
    cfg = scope.settings
    if cfg.replace_horizon_s <= 0:
        return None
    off = scope.spares()
    if not off:
        return None
    bar = cost_w_per_core(off[0], cfg.pack_to) * (1.0 + TOLERANCE)
    on = scope.active()
    held = held_by_host(scope, on, demand)
    under = [h for h in on if held[h.name].cpu <= cfg.pack_to * h.cpu_capacity_cores + EPS]
    calm = [
        h
        for h in on
        if held[h.name].cpu <= cfg.relieve_above * h.cpu_capacity_cores + EPS
        and h.name in scope.can_off
        and h.name not in scope.stuck
    ]
    costly = sorted(
        (h for h in calm if cost_w_per_core(h, cfg.pack_to) > bar),
        key=lambda h: (-cost_w_per_core(h, cfg.pack_to), held[h.name].vms, h.name),
    )
    drain = _take(costly, held, cfg)
    if not drain:
        return None
    load = sum(held[n].cpu for n in drain)
    new = off[: math.ceil(load / (cfg.pack_to * off[0].cpu_capacity_cores)) + 1]
    keep = [h for h in under if cost_w_per_core(h, cfg.pack_to) <= bar]
    chosen = [h for h in on if h.name in set(drain)]
    view = forecast_view(scope, keep + chosen + new, demand, drain)
    result = plan(view, fixed=scope.fixed)
    moves = len(result.moves)
    saving = saving_w(view, result)
    worth = saving * cfg.replace_horizon_s / 3600.0 >= cfg.min_watts_per_move * moves
    if result.unmovable or moves == 0 or not worth:
        return None
    why = f"replace {len(drain)} host(s) ({', '.join(drain[:5])}) by efficient ones"
    return packing(result, drain, "replacement", f"{why}: {moves} migrations save {saving:.0f} W")


def _take(costly: list[Host], held: dict[str, Held], cfg: ControlSettings) -> list[str]:
    chosen: list[str] = []
    moves, seconds = 0, 0.0
    for h in costly:
        own = held[h.name]
        if moves + own.vms > cfg.max_moves or seconds + own.seconds > cfg.max_migration_s:
            break
        chosen.append(h.name)
        moves += own.vms
        seconds += own.seconds
    return chosen
