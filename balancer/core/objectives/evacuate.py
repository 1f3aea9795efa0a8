"""Evacuate: every VM leaves the hosts being emptied (policy ``evacuate_hosts``, and hosts
in maintenance or draining). Each movable VM gets a valid destination — the emptiest
host that passes every filter; when none has room, moving smaller VMs off a host that
would otherwise pass; then powering an ``off`` host on — or the plan says exactly which
VM cannot move and why. Cooldowns do not apply to the evacuated VMs."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from balancer.core.plan import MoveReason, PowerReason
from balancer.core.planning import Item, Planning
from balancer.core.reasons import Reason
from balancer.core.weighers import SPREAD, choose


class EvacuateObjective:
    """Only the evacuation (which every plan starts with), and nothing else."""

    NAME: ClassVar[str] = "evacuate"
    REASON: ClassVar[MoveReason] = MoveReason.EVACUATION
    PRIORITY: ClassVar[int] = 0
    POWERS_OFF: ClassVar[bool] = False
    LISTS_UNMOVABLE: ClassVar[bool] = False

    def run(self, p: Planning) -> None:
        """Nothing beyond the evacuation every plan starts with."""


def evacuate(p: Planning) -> None:
    s = p.state
    items = [it for it in p.items if p.leaving(it)]
    # Largest first: they have the fewest places to go.
    items.sort(key=lambda it: (-max(it.mem / _mem_ref(p), it.cpu / _cpu_ref(p)), it.vms))
    for item in items:
        # The host being emptied (a hard-affinity group may span it and another host).
        leaving = next(v for v in item.vms if int(s.original_host[v]) in p.sources)
        source = s.hosts[int(s.original_host[leaving])]
        why = source.state if source.state in ("maintenance", "draining") else "being evacuated"
        reason = (MoveReason.EVACUATION, f"{source.name} is {why}")
        verdict = p.movability(item, evacuating=True)
        if not verdict.ok and verdict.reason is not None:
            p.mark_unmovable(item, verdict.reason, verdict.detail)
            continue
        mask = p.candidates(item)
        if mask.any():
            p.place(item, choose(p, item, mask, SPREAD), reason)
            continue
        room = _make_room(p, item)
        if room is not None:
            p.place(item, room, reason)
            continue
        powered = p.power_on_for(
            item, (PowerReason.EVACUATION, f"room for the VMs of {source.name}")
        )
        if powered is not None:
            p.place(item, powered, reason)
        else:
            p.mark_unmovable(item, Reason.NO_DESTINATION, p.why_no_destination(item))


#: Hosts tried when making room for one evacuated VM.
ROOM_HOSTS = 16


def _make_room(p: Planning, item: Item) -> int | None:
    """A host that takes ``item`` once some of its smaller VMs move elsewhere."""
    s = p.state
    mask = p.static_mask(item) & p.accepting
    if p.beyond_room:
        mask &= ~p.apart_mask(item)
    hosts = np.flatnonzero(mask)
    free = np.minimum(
        (s.cap_cpu[hosts] - s.used_cpu[hosts]) / max(item.cpu, 1e-9),
        (s.cap_mem[hosts] - s.used_mem[hosts]) / max(item.mem, 1e-9),
    )
    name = s.vms[item.vms[0]].name
    for h in (int(x) for x in hosts[np.argsort(-free, kind="stable")][:ROOM_HOSTS]):
        checkpoint, reasons = s.checkpoint(), dict(p.move_reason)
        others = {p.item_of[v] for v in s.members[h]}
        victims = sorted(
            (
                o
                for o in others
                if o.mem <= item.mem
                and o.cpu <= item.cpu + 1e-9
                and not p.is_moved(o)
                and p.movability(o, evacuating=False).ok
            ),
            key=lambda o: (-o.mem, -o.cpu, o.vms),
        )
        for victim in victims:
            if s.fit_mask(item.cpu, item.mem)[h]:
                break
            spot = p.candidates(victim) & (np.arange(len(s.hosts)) != h)
            if not spot.any():
                continue
            p.place(
                victim,
                choose(p, victim, spot, SPREAD),
                (MoveReason.EVACUATION, f"make room on {s.hosts[h].name} for {name}"),
            )
        if s.fit_mask(item.cpu, item.mem)[h]:
            return h
        s.restore(checkpoint)
        p.move_reason = reasons
    return None


def _mem_ref(p: Planning) -> float:
    return max(float(p.state.raw_mem.max()), 1.0)


def _cpu_ref(p: Planning) -> float:
    return max(float(p.state.raw_cpu.max()), 1e-9)
