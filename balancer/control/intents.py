"""The operators' intents the loop obeys, as values: evacuations (durable, cancellable,
resumable) and a pause. They are stored by the ``CycleStore`` port."""

from __future__ import annotations

from typing import Literal

import msgspec

EvacuationState = Literal["running", "cancelled", "done"]


class Evacuation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Empty ``host`` (an operator put it in maintenance or draining).

    ``running``: the loop moves its VMs away, first of all intents; ``cancelled``: its
    queued moves are revoked (running ones finish) and the loop leaves the host and its
    VMs alone until the evacuation is resumed; ``done``: the host held no VM.
    """

    id: str
    host: str
    state: EvacuationState = "running"
    reason: str = ""
    #: Who asked (an operator's name, ``daemon`` when it found a host in maintenance).
    by: str = ""
    created_at: float
    updated_at: float
    #: VMs on the host when the evacuation was created, and at the last cycle.
    vms_total: int = 0
    vms_left: int = 0
    finished_at: float | None = None


class Pause(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The loop plans nothing new (running evacuations go on unless cancelled)."""

    at: float
    by: str = ""
    reason: str = ""


class Intents(msgspec.Struct, frozen=True, kw_only=True):
    """What the operators asked, as read at the start of a cycle."""

    paused: Pause | None = None
    evacuations: tuple[Evacuation, ...] = ()

    def running_evacuations(self) -> tuple[Evacuation, ...]:
        return tuple(e for e in self.evacuations if e.state == "running")

    def held_hosts(self) -> frozenset[str]:
        """Hosts of cancelled evacuations: neither give nor take until resumed."""
        running = {e.host for e in self.running_evacuations()}
        return frozenset(
            e.host for e in self.evacuations if e.state == "cancelled" and e.host not in running
        )
