"""The control loop's settings: every window, cool-down and interval in seconds, so one
set of settings serves a 300 s trace and a 60 s daemon (the history's sample spacing is
an input of each cycle, ``Situation.step_s``).

Defaults fit a daemon that runs a cycle every 60 s; the simulator carries its own
(``balancer.sim.replay.SimConfig.control``). Three utilization lines give the
hysteresis: consolidation packs hosts to ``pack_to`` by forecast; relief starts when a
host's demand *now* is over ``relieve_above`` (for ``relieve_after_s``) and brings it
down to ``relieve_to``; capacity is powered on when the active hosts' forecast load
passes ``power_on_above`` of their capacity. Between the lines nothing moves.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Forecaster = Literal["last", "mean", "quantile", "peak"]
Share = Annotated[float, msgspec.Meta(gt=0, le=1)]
Fraction = Annotated[float, msgspec.Meta(ge=0, lt=1)]
Line = Annotated[float, msgspec.Meta(gt=0, le=2)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=30 * 86400)]
Interval = Annotated[float, msgspec.Meta(gt=0, le=86400)]
Watts = Annotated[float, msgspec.Meta(ge=0, le=1e6)]
Count = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
Spread = Annotated[float, msgspec.Meta(gt=0, le=1)]

#: One day: the window of the power-cycle budget.
DAY_S = 86400.0


class ControlSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the cycle decides by (validated: ``msgspec.convert`` names a bad field)."""

    #: Seconds between the history's samples the loop keeps and reads (the daemon's).
    sample_every_s: Interval = 60.0
    #: A VM whose migration failed is not planned again for this long (a move the
    #: executor refuses for good, say for storage it cannot copy, is not retried every
    #: cycle; evacuations included).
    retry_failed_after_s: Seconds = 900.0

    # -- relief ------------------------------------------------------------------------
    #: Relief starts when a host's CPU demand now exceeds this share of its capacity...
    relieve_above: Line = 1.0
    #: ...and has, with the VMs it holds now, for this long before (0: now is enough)...
    relieve_after_s: Seconds = 0.0
    #: ...and moves VMs until those hosts are at most at this share (the plan's headroom).
    relieve_to: Share = 0.85
    #: ``move_cost_per_s`` of relief plans: high enough that only relief pays for a move.
    relief_move_cost_per_s: Watts = 0.02
    #: Hosts powered on in one cycle (relief or capacity), at most.
    max_power_on: Count = 3
    #: Relief may move a VM that migrated more than this long ago, even within the
    #: policy's cool-down (an overload is worse than a second move; a VM that has just
    #: moved still stays put); ``None``: the policy's cool-down holds for relief too.
    relief_cooldown_s: Seconds | None = 600.0

    # -- balance -----------------------------------------------------------------------
    #: A balance plan runs when the CPU-utilization spread (standard deviation over the
    #: active hosts) is above this; ``None``: never.
    balance_above: Spread | None = 0.2
    #: ``move_cost_per_s`` of balance plans (the planner's own default).
    balance_move_cost_per_s: Watts = 0.002

    # -- forecast ----------------------------------------------------------------------
    #: Forecaster (``balancer.control.forecast.FORECASTERS``), window and quantile.
    forecast: Forecaster = "quantile"
    forecast_window_s: Interval = 3600.0
    forecast_quantile: Share = 0.9

    # -- power -------------------------------------------------------------------------
    #: Power on the most efficient off hosts when the active hosts' forecast load would
    #: pass this share of their capacity (booting hosts counted as capacity); ``None``:
    #: never for capacity alone (relief and evacuations still power hosts on).
    power_on_above: Line | None = 0.9
    #: A host stays on at least this long after it was powered on...
    min_on_s: Seconds = 3600.0
    #: ...and off at least this long after it was powered off.
    min_off_s: Seconds = 1800.0
    #: Power-offs per host in any 24 h (a host is powered off only if it may come back).
    power_cycles_per_day: Count = 4
    #: A host powered on counts as booting (not powered on again, not a spare) until it
    #: reports active or this long has passed.
    boot_s: Seconds = 600.0

    # -- energy saving -----------------------------------------------------------------
    #: Consolidate, replace and power idle hosts off (``False``: the fleet's size is the
    #: operators' business; relief, balance and evacuations go on).
    energy_saving: bool = True
    #: Consolidation packs hosts to this share of their capacity, by forecast demand.
    pack_to: Share = 0.75
    #: Share of each host's memory kept free in ``cpu+memory`` mode (memory is
    #: allocated, not used: it does not burst, so it needs no CPU-sized margin).
    memory_headroom: Fraction = 0.0
    #: Consolidate at most once in this long (but again at the next cycle, while no host
    #: is overloaded, after a consolidation that moved VMs: a spread fleet packs fast),
    consolidate_every_s: Seconds = 1800.0
    #: and only for plans that save at least this much power (W) per migration,
    min_watts_per_move: Watts = 4.0
    #: draining hosts of at most this many VMs in all, whose memory crosses their links
    #: in at most this many seconds in all (what the executor finishes in an interval:
    #: a drain it cannot finish is left half done).
    max_moves: Count = 80
    max_migration_s: Seconds = 1200.0
    #: Replacing less efficient hosts by efficient off ones saves power whatever the
    #: load: a replacement must save, over this long, what ``min_watts_per_move`` for an
    #: hour asks of each of its migrations (0: never).
    replace_horizon_s: Seconds = 6 * 3600.0
    #: Off hosts, the most efficient first, a consolidation may switch on when no host
    #: that is on fits a VM of the hosts it drains.
    spare_hosts: Count = 2
    #: Let consolidation and replacement drain a host holding a VM still in its cool-down
    #: (the planner's evacuation moves it regardless). Off: the cool-down holds for every
    #: intent but evacuation. On: what the replay did before the control loop; it packs
    #: a spread fleet faster (docs/evaluation.md, "Which start").
    drain_cooling: bool = False

    def __post_init__(self) -> None:
        """The lines in order, or the intents undo each other: relief must bring a host
        under the line that starts it, packing must not fill hosts past it, and capacity
        must not be powered on for a load that packing aims at."""
        if self.relieve_to > self.relieve_above:
            raise ValueError("relieve_to must be at most relieve_above")
        if self.pack_to > self.relieve_above:
            raise ValueError("pack_to must be at most relieve_above")
        if self.power_on_above is not None and self.pack_to > self.power_on_above:
            raise ValueError("pack_to must be at most power_on_above")

    def samples(self, seconds: float, step_s: float) -> int:
        """How many samples ``step_s`` apart cover ``seconds`` (at least one)."""
        return max(1, int(seconds / step_s + 1e-9))

    def history_s(self) -> float:
        """The history the cycle reads: the forecast window, or the relief wait and the
        sample now, whichever is longer."""
        return max(self.forecast_window_s, self.relieve_after_s + self.sample_every_s)
