"""Evacuate: every VM leaves the hosts being emptied (policy ``evacuate_hosts``, and hosts
in maintenance or draining). Each movable VM gets a valid destination — the emptiest
host that passes every filter, powering an ``off`` host on when no active one fits — or
the plan says exactly which VM cannot move and why. Cooldowns do not apply."""

from __future__ import annotations

from balancer.core.planning import Planning
from balancer.core.reasons import Reason
from balancer.core.weighers import SPREAD, choose


def evacuate(p: Planning) -> None:
    s = p.state
    items = [it for it in p.items if p.leaving(it)]
    # Largest first: they have the fewest places to go.
    items.sort(key=lambda it: (-max(it.mem / _mem_ref(p), it.cpu / _cpu_ref(p)), it.vms))
    for item in items:
        source = s.hosts[s.host_of(item.vms[0])]
        why = source.state if source.state in ("maintenance", "draining") else "being evacuated"
        reason = f"evacuate: {source.name} is {why}"
        verdict = p.movability(item, evacuating=True)
        if not verdict.ok and verdict.reason is not None:
            p.mark_unmovable(item, verdict.reason, verdict.detail)
            continue
        mask = p.candidates(item)
        if mask.any():
            p.place(item, choose(p, item, mask, SPREAD), reason)
            continue
        powered = p.power_on_for(item, f"capacity for the evacuation of {source.name}")
        if powered is not None:
            p.place(item, powered, reason)
        else:
            p.mark_unmovable(item, Reason.NO_DESTINATION, p.why_no_destination(item))


def _mem_ref(p: Planning) -> float:
    return max(float(p.state.raw_mem.max()), 1.0)


def _cpu_ref(p: Planning) -> float:
    return max(float(p.state.raw_cpu.max()), 1e-9)
