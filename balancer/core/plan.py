"""The plan document: which VM goes where, how, in which wave; which hosts power on or
off; which VMs cannot move and why. Frozen; ``msgspec.json.encode(plan)`` is its JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

import msgspec

from balancer.core.migration_model import Mode


class MoveReason(StrEnum):
    """Why a VM moves (the intent it serves): data that the daemon ranks, the Celery
    priorities follow and the exporter counts; never free text."""

    EVACUATION = "evacuation"  # its host must be emptied (maintenance, draining, policy)
    RELIEF = "relief"  # its host is over the relief line
    CONSOLIDATION = "consolidation"  # pack the load on fewer hosts (energy saving)
    REPLACEMENT = "replacement"  # hand an inefficient host's load to an efficient one
    BALANCE = "balance"  # even out utilization
    OPERATOR = "operator"  # an operator asked for this one move


class PowerReason(StrEnum):
    """Why a host is powered on or off."""

    CAPACITY = "capacity"  # on: the active hosts are running out of headroom
    RELIEF = "relief"  # on: an overloaded host's VMs need somewhere to go
    EVACUATION = "evacuation"  # on: an evacuated host's VMs need somewhere to go
    CONSOLIDATION = "consolidation"  # on: a packing needs it; off: packing emptied it
    REPLACEMENT = "replacement"  # on: an efficient host takes an inefficient one's load
    IDLE = "idle"  # off: no VM, and the others hold the load
    OPERATOR = "operator"  # an operator asked for it


class Doc(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the plan's structs."""


class MoveEstimate(Doc, frozen=True, kw_only=True):
    duration_s: float
    downtime_ms: float
    bytes: int
    rounds: int = 0
    converges: bool = True


class Move(Doc, frozen=True, kw_only=True):
    vm: str
    source: str = msgspec.field(name="from")
    to: str
    mode: Mode
    wave: int
    reason: MoveReason
    #: One sentence on this move ("kvm-03 is in maintenance", "kvm-01 58% → 47%").
    detail: str = ""
    estimate: MoveEstimate
    warnings: tuple[str, ...] = ()


class PowerAction(Doc, frozen=True, kw_only=True):
    host: str
    action: Literal["on", "off"]
    wave: int
    reason: PowerReason
    detail: str = ""


class Unmovable(Doc, frozen=True, kw_only=True):
    vm: str
    host: str
    reason: str
    detail: str


class Spread(Doc, frozen=True, kw_only=True):
    """Standard deviation of utilization (0..1) across active hosts."""

    cpu: float
    memory: float


class Summary(Doc, frozen=True, kw_only=True):
    objective: str
    active_hosts_before: int
    active_hosts_after: int
    spread_before: Spread
    spread_after: Spread
    migrations: int
    waves: int
    total_bytes: int
    total_duration_s: float
    max_downtime_ms: float
    overloaded_hosts_before: int
    overloaded_hosts_after: int


class Plan(Doc, frozen=True, kw_only=True):
    version: int = 1
    generation: int
    taken_at: float
    moves: tuple[Move, ...]
    power: tuple[PowerAction, ...]
    unmovable: tuple[Unmovable, ...]
    summary: Summary
