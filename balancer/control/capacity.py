"""Power on for capacity: before the active hosts run out of headroom by forecast, so
the others never pass the relief line when the load returns.

The active hosts' forecast load (the VMs they hold, and those of hosts being emptied)
over their capacity (booting hosts counted: they are coming) is compared with
``power_on_above``; over it, the off hosts with the most capacity per watt that the power
rules allow are powered on, one by one, until it is under the line again (at most
``max_power_on`` in a cycle). They hold no VM yet: relief and balance fill them.
"""

from __future__ import annotations

import numpy as np

from balancer.control.power import FloatArray
from balancer.control.proposal import Proposal
from balancer.control.scope import Scope
from balancer.core.compose import Switch
from balancer.core.models import EMPTYING_STATES
from balancer.core.plan import PowerReason


def load_and_capacity(scope: Scope, demand: FloatArray) -> tuple[float, float]:
    """Forecast CPU (cores) of the VMs on active and emptying hosts, and the capacity of
    the active and booting hosts."""
    snapshot = scope.snapshot
    booting = scope.booting()
    counted = np.array(
        [h.state == "active" or h.state in EMPTYING_STATES for h in snapshot.hosts], dtype=np.bool_
    )
    load = float(demand[counted[scope.host_of]].sum()) if len(demand) else 0.0
    cap = sum(
        h.cpu_capacity_cores
        for h in snapshot.hosts
        if h.state == "active" or (h.name in booting and h.state != "failed")
    )
    return load, cap


def power_on_for_capacity(scope: Scope, demand: FloatArray, budget: int) -> Proposal | None:
    line = scope.settings.power_on_above
    if line is None or budget <= 0:
        return None
    load, cap = load_and_capacity(scope, demand)
    if load <= line * cap:
        return None
    before = load / cap if cap > 0 else float("inf")
    chosen: list[Switch] = []
    for h in scope.spares():
        if load <= line * cap or len(chosen) >= budget:
            break
        cap += h.cpu_capacity_cores
        detail = f"forecast load {before:.0%} of the active hosts' capacity, over {line:.0%}"
        chosen.append(Switch(h.name, "on", PowerReason.CAPACITY, detail))
    if not chosen:
        return None
    summary = (
        f"power on {', '.join(s.host for s in chosen)}: forecast load {before:.0%} "
        f"of capacity → {load / cap:.0%}"
    )
    return Proposal(intent="capacity", power=tuple(chosen), summary=summary)
