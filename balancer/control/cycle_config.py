"""The cycle's knobs, its memory between intervals, and its decision (frozen structs)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from balancer.core.models import Host
from balancer.core.plan import Plan
from balancer.control.power import power_table

Action = Literal["none", "relieve", "consolidate"]
Forecaster = Literal["last", "mean", "quantile", "peak"]
Share = Annotated[float, msgspec.Meta(gt=0, le=1)]
Fraction = Annotated[float, msgspec.Meta(ge=0, lt=1)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
EPS = 1e-9


class CycleConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Relief starts when a host's CPU demand now exceeds this share of its capacity...
    relieve_above: Positive = 1.0
    #: ...in this many consecutive samples (with the VMs it holds now)...
    relieve_after: AtLeastOne = 1
    #: ...and moves VMs until those hosts are at most at this share (the plan's headroom).
    relieve_to: Share = 0.85
    #: Consolidation packs hosts to this share of their capacity, by forecast demand.
    pack_to: Share = 0.75
    #: Share of each host's memory kept free in ``cpu+memory`` mode (memory is
    #: allocated, not used: it does not burst, so it needs no CPU-sized margin).
    memory_headroom: Fraction = 0.0
    #: Consolidate at most once in this long (but again at the next step, while no host
    #: is overloaded, after a consolidation that moved VMs: a spread fleet packs fast),
    consolidate_every_s: NonNegative = 1800.0
    #: and only for plans that save at least this much power (W) per migration,
    min_watts_per_move: NonNegative = 4.0
    #: draining hosts of at most this many VMs in all, whose memory crosses their links
    #: in at most this many seconds in all (what 5 cluster slots carry in a 300 s
    #: interval, with some margin: a drain the executor cannot finish is left half done).
    max_moves: Count = 80
    max_migration_s: NonNegative = 1200.0
    #: Replacing less efficient hosts by efficient off ones saves power whatever the
    #: load, for as long as they stay on: a replacement must save, over this long, what
    #: ``min_watts_per_move`` for an hour asks of each of its migrations (0: never).
    replace_horizon_s: NonNegative = 6 * 3600.0
    #: Off hosts, the most efficient first, a consolidation may switch on when no host
    #: that is on fits a VM of the hosts it drains.
    spare_hosts: Count = 2
    #: Forecaster (``balancer.control.forecast.FORECASTERS``) and its window and quantile.
    forecast: Forecaster = "quantile"
    forecast_window: AtLeastOne = 12
    forecast_quantile: Share = 0.9
    #: Hosts powered on in one cycle to relieve overloads, at most.
    max_power_on: Count = 3
    #: ``move_cost_per_s`` of relief plans: high enough that only relief pays for a move.
    relief_move_cost_per_s: NonNegative = 0.02


class CycleMemory(msgspec.Struct, frozen=True, kw_only=True):
    """What the cycle remembers between intervals."""

    last_consolidation_at: float | None = None
    #: The last consolidation moved VMs: there may be more to pack at the next step.
    packing: bool = False
    #: A consolidation has found nothing worth doing since the cycle started. Until
    #: then the cycle is packing the fleet it found, by the demand now (the measure of
    #: the initial placement) rather than by forecast.
    settled: bool = False


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    action: Action
    #: The plan to execute (``None``: nothing to do).
    plan: Plan | None
    #: Hosts powered on for this plan (they receive VMs).
    power_on: tuple[str, ...]
    reason: str
    memory: CycleMemory
    #: ``plan()`` calls made to reach the decision (taken or not).
    plans_computed: int = 0


def nothing(memory: CycleMemory, reason: str = "", plans_computed: int = 0) -> Decision:
    return Decision(
        action="none",
        plan=None,
        power_on=(),
        reason=reason,
        memory=memory,
        plans_computed=plans_computed,
    )


def util(host: Host) -> float:
    """CPU demand now / capacity."""
    return host.cpu_used / host.cpu_capacity_cores


def per_watt(host: Host) -> float:
    """Capacity per watt at full load: which off host to switch on first."""
    peak = power_table(host)[-1]
    return host.cpu_capacity_cores / peak if peak > 0 else host.cpu_capacity_cores


def spares(hosts: tuple[Host, ...]) -> list[Host]:
    """Off hosts, the most capacity per watt first (then by name)."""
    return sorted((h for h in hosts if h.state == "off"), key=lambda h: (-per_watt(h), h.name))
