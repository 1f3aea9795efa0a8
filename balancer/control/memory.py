"""What the cycle remembers between intervals: a frozen, JSON-serializable value, saved
by the ``CycleStore`` port after every cycle so it survives a daemon restart and a
leader change (``msgspec.json.encode``/``decode`` round-trip it exactly; unknown fields
are ignored, so a daemon reads the memory a newer one saved)."""

from __future__ import annotations

from typing import Literal

import msgspec


class HostPower(msgspec.Struct, frozen=True, kw_only=True):
    """The power actions the cycle took on one host."""

    #: The last action and when it was decided (Clock seconds).
    last: Literal["on", "off"]
    at: float
    #: When each power-off of the last 24 h was decided (oldest first): the budget.
    offs: tuple[float, ...] = ()
    #: Powered on and not yet reported active: booting until this time.
    booting_until: float | None = None


class CycleMemory(msgspec.Struct, frozen=True, kw_only=True):
    """What the cycle remembers between intervals."""

    last_consolidation_at: float | None = None
    #: The last consolidation moved VMs: there may be more to pack at the next step.
    packing: bool = False
    #: A consolidation has found nothing worth doing since the cycle started. Until
    #: then the cycle is packing the fleet it started with, by the demand now (the
    #: measure of the initial placement) rather than by forecast.
    settled: bool = False
    #: Power bookkeeping by host name (hosts the cycle never switched are absent).
    power: dict[str, HostPower] = {}
