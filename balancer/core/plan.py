"""The plan document: which VM goes where, how, in which wave; which hosts power on or
off; which VMs cannot move and why. Frozen; ``msgspec.json.encode(plan)`` is its JSON."""

from __future__ import annotations

from typing import Literal

import msgspec

from balancer.core.migration_model import Mode


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
    reason: str
    estimate: MoveEstimate
    warnings: tuple[str, ...] = ()


class PowerAction(Doc, frozen=True, kw_only=True):
    host: str
    action: Literal["on", "off"]
    wave: int
    reason: str


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
