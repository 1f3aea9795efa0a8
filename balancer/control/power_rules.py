"""The power rules, over the cycle's memory: minimum on and off times, a daily budget of
power cycles per host, and boot time.

- A host powered on counts as *booting* (not powered on again, not a spare, counted as
  capacity) until it reports ``active`` or ``boot_s`` has passed.
- It may be powered off once it has been on ``min_on_s`` and if fewer than
  ``power_cycles_per_day`` power-offs were decided for it in the last 24 h: the budget
  is counted at the power-off, so a host is only powered off when it may come back.
- It may be powered on once it has been off ``min_off_s``.

Hosts the cycle never switched (or not for a day) have no record and are free.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from balancer.control.memory import CycleMemory, HostPower
from balancer.control.settings import DAY_S, ControlSettings
from balancer.core.compose import Switch
from balancer.core.models import Snapshot


def advance(memory: CycleMemory, snapshot: Snapshot, settings: ControlSettings) -> CycleMemory:
    """The records as of ``snapshot.taken_at``: boots ended (the host reports active, or
    its boot time passed), power-offs older than a day forgotten, stale records gone."""
    now = snapshot.taken_at
    state = {h.name: h.state for h in snapshot.hosts}
    keep_s = max(settings.min_on_s, settings.min_off_s, DAY_S)
    out: dict[str, HostPower] = {}
    for name, rec in sorted(memory.power.items()):
        if name not in state:
            continue
        booting = rec.booting_until
        if booting is not None and (state[name] == "active" or now >= booting):
            booting = None
        offs = tuple(t for t in rec.offs if now - t < DAY_S)
        if booting is None and not offs and now - rec.at >= keep_s:
            continue
        out[name] = msgspec.structs.replace(rec, offs=offs, booting_until=booting)
    return msgspec.structs.replace(memory, power=out)


def booting(memory: CycleMemory) -> frozenset[str]:
    """Hosts powered on that have not reported active yet (after ``advance``)."""
    return frozenset(n for n, r in memory.power.items() if r.booting_until is not None)


def may_power_on(memory: CycleMemory, host: str, now: float, settings: ControlSettings) -> bool:
    rec = memory.power.get(host)
    if rec is None:
        return True
    if rec.booting_until is not None:
        return False
    return not (rec.last == "off" and now - rec.at < settings.min_off_s)


def may_power_off(memory: CycleMemory, host: str, now: float, settings: ControlSettings) -> bool:
    rec = memory.power.get(host)
    if rec is None:
        return settings.power_cycles_per_day > 0
    if rec.booting_until is not None:
        return False
    if rec.last == "on" and now - rec.at < settings.min_on_s:
        return False
    return len(rec.offs) < settings.power_cycles_per_day


def record(
    memory: CycleMemory, switches: Iterable[Switch], now: float, settings: ControlSettings
) -> CycleMemory:
    """``memory`` with the power actions decided at ``now``."""
    power = dict(memory.power)
    for sw in switches:
        rec = power.get(sw.host)
        offs = () if rec is None else rec.offs
        if sw.action == "off":
            power[sw.host] = HostPower(last="off", at=now, offs=(*offs, now))
        else:
            power[sw.host] = HostPower(
                last="on", at=now, offs=offs, booting_until=now + settings.boot_s
            )
    return msgspec.structs.replace(memory, power=dict(sorted(power.items())))
