"""What both demos follow while they play and sum up at the end, read from the store:
the operator's evacuation (which host, when it was asked, when its last VM left), each
live-view frame, and the summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis

from balancer.core.models import Snapshot
from balancer.demo.store_view import (
    busiest_active_host,
    cycle_line,
    host_lines,
    leader_line,
    move_lines,
    vms_per_host,
)
from balancer.demo.summary import Counts, EvacuationSummary, Summary
from balancer.demo.view import Frame
from balancer.state.keys import Keys


@dataclass
class EvacuationWatch:
    host: str = ""
    start: float | None = None
    done: float | None = None

    def begin(self, snapshot: Snapshot, now: float) -> str | None:
        """Choose the host an operator evacuates (the busiest active one); ``None``: none."""
        busiest = busiest_active_host(snapshot)
        if busiest is not None:
            self.host, self.start = busiest, now
        return busiest

    def follow(self, snapshot: Snapshot, now: float) -> None:
        if self.host and self.done is None and not vms_per_host(snapshot).get(self.host):
            self.done = now

    def seconds(self) -> float | None:
        return None if self.done is None or self.start is None else self.done - self.start

    def line(self, snapshot: Snapshot, took: Callable[[float], str]) -> str:
        if not self.host:
            return ""
        seconds = self.seconds()
        if seconds is not None:
            return f"evacuation of {self.host}: done in {took(seconds)}"
        left = vms_per_host(snapshot).get(self.host, 0)
        return f"evacuation of {self.host}: {left} VM(s) left"

    def summary(self, snapshot: Snapshot) -> EvacuationSummary | None:
        if not self.host:
            return None
        seconds = self.seconds()
        return EvacuationSummary(
            host=self.host,
            seconds=None if seconds is None else round(seconds, 1),
            vms_left=vms_per_host(snapshot).get(self.host, 0),
        )


@dataclass(frozen=True)
class FrameText:
    """What a demo says of itself in a frame."""

    clock: str
    phase: str
    load: float
    energy: str


def store_frame(
    client: redis.Redis,
    keys: Keys,
    snapshot: Snapshot,
    counts: Counts,
    evacuation: str,
    text: FrameText,
) -> Frame:
    return Frame(
        clock=text.clock,
        phase=text.phase,
        load=text.load,
        leader=leader_line(client, keys),
        last_cycle=cycle_line(client, keys),
        hosts=host_lines(snapshot),
        moves=move_lines(client, keys),
        evacuation=evacuation,
        totals={"moves": counts.moves, "off": counts.powered_off, "on": counts.powered_on},
        energy=text.energy,
    )


def summary_of(
    c: Counts,
    placement: tuple[int, int],
    energy: tuple[float, float],
    evacuation: EvacuationSummary | None,
    **sizes: float,
) -> Summary:
    """``sizes``: the run's ``hosts``, ``vms``, ``fleet_hours`` and ``seconds``."""
    return Summary(
        moves=c.moves,
        by_reason=c.by_reason,
        by_mode=c.by_mode,
        fallbacks=c.fallbacks,
        powered_off=c.powered_off,
        powered_on=c.powered_on,
        evacuation=evacuation,
        energy_kwh=energy[0],
        energy_kwh_no_power_management=energy[1],
        vms_lost=placement[0],
        vms_duplicated=placement[1],
        failed=c.failed,
        fenced=c.fenced,
        cancelled=c.cancelled,
        hosts=int(sizes["hosts"]),
        vms=int(sizes["vms"]),
        fleet_hours=sizes["fleet_hours"],
        seconds=sizes["seconds"],
    )
