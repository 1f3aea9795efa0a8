"""What the cycle remembers between intervals: a frozen, JSON-serializable value, saved
by the ``CycleStore`` port after every cycle so it survives a daemon restart and a
leader change."""

from __future__ import annotations

import msgspec


class CycleMemory(msgspec.Struct, frozen=True, kw_only=True):
    """What the cycle remembers between intervals."""

    last_consolidation_at: float | None = None
    #: The last consolidation moved VMs: there may be more to pack at the next step.
    packing: bool = False
    #: A consolidation has found nothing worth doing since the cycle started. Until
    #: then the cycle is packing the fleet it started with, by the demand now (the
    #: measure of the initial placement) rather than by forecast.
    settled: bool = False
