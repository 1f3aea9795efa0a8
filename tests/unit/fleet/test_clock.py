"""Fleet time (pure parts and a Redis-shaped store): start + elapsed × speed from one
anchor, so every process agrees; a sleep of s fleet seconds is s / speed real seconds."""

from __future__ import annotations

import fakeredis
import pytest

from balancer.control.ports import Clock
from balancer.errors import RetryableError
from balancer.fleet.clock import ClockAnchor, FleetClock, anchor_clock, redis_time
from balancer.state.keys import Keys


class Mono:
    def __init__(self) -> None:
        self.t = 50.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_fleet_time_runs_speed_times_faster_from_its_anchor() -> None:
    anchor = ClockAnchor(start=1_000.0, at=2_000.0, speed=60.0)
    assert anchor.fleet_time(2_000.0) == 1_000.0
    assert anchor.fleet_time(2_010.0) == 1_600.0
    mono = Mono()
    clock = FleetClock(anchor, offset=1_950.0, monotonic=mono.now, real_sleep=mono.sleep)
    assert clock.now() == 1_000.0  # 50 + 1950 = 2000: the anchor's instant
    clock.sleep(120.0)
    assert mono.slept == [2.0]
    assert clock.now() == 1_120.0
    clock.sleep(-5.0)
    assert mono.slept[-1] == 0.0
    assert clock.real_seconds(30.0) == 0.5


def test_two_processes_read_the_same_anchor_and_agree() -> None:
    client, keys = fakeredis.FakeRedis(), Keys()
    with pytest.raises(RetryableError, match="no simulated fleet"):
        FleetClock.from_redis(client, keys)
    anchor = anchor_clock(client, keys, start=5_000.0, speed=10.0)
    a, b = FleetClock.from_redis(client, keys), FleetClock.from_redis(client, keys)
    assert a.anchor == b.anchor == anchor
    assert a.now() == pytest.approx(b.now(), abs=0.5)
    assert a.now() == pytest.approx(5_000.0 + (redis_time(client) - anchor.at) * 10, abs=0.5)


def test_the_fleet_clock_is_the_control_loops_clock_port() -> None:
    mono = Mono()
    port: Clock = FleetClock(ClockAnchor(start=0.0, at=0.0, speed=2.0), offset=-50.0,
                             monotonic=mono.now, real_sleep=mono.sleep)  # fmt: skip
    assert port.now() == 0.0
    port.sleep(10.0)
    assert port.now() == 10.0
    assert mono.slept == [5.0]
