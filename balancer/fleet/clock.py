"""Fleet time: simulated seconds = start + elapsed real time × speed, anchored in Redis.

The fleet writes the anchor once when it starts (``Keys.sim_clock``): the fleet time
``start`` at the Redis instant ``at`` (Redis' own ``TIME``), and the ``speed``. Every
process (the fleet, the workers, the daemon) reads it, measures once how its own
monotonic clock stands against Redis' clock, and from then on tells fleet time without a
round trip, so all of them agree to within a round trip × speed. ``FleetClock`` is the
daemon's ``Clock`` port (``now()``, ``sleep(seconds)``) and the executor's clock and sleep:
a sleep of s fleet seconds lasts s / speed real seconds.

Real-time things stay real: a heartbeat's TTL and a lease's expiry are Redis time (scale
them with ``real_seconds``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
import redis

from balancer.errors import RetryableError
from balancer.state.keys import Keys


class ClockAnchor(msgspec.Struct, frozen=True, kw_only=True):
    """Fleet time ``start`` at Redis time ``at`` (seconds); fleet seconds per real second."""

    start: float
    at: float
    speed: float

    def fleet_time(self, redis_now: float) -> float:
        return self.start + (redis_now - self.at) * self.speed


def redis_time(client: redis.Redis) -> float:
    """Redis' clock (``TIME``) in seconds."""
    seconds, micros = client.time()
    return float(seconds) + float(micros) / 1e6


def anchor_clock(client: redis.Redis, keys: Keys, *, start: float, speed: float) -> ClockAnchor:
    """Start fleet time at ``start`` now (written over any earlier anchor)."""
    anchor = ClockAnchor(start=start, at=redis_time(client), speed=speed)
    client.set(keys.sim_clock, msgspec.json.encode(anchor))
    return anchor


def read_anchor(client: redis.Redis, keys: Keys) -> ClockAnchor | None:
    raw = client.get(keys.sim_clock)
    return None if raw is None else msgspec.json.decode(raw, type=ClockAnchor)


class FleetClock:
    """Fleet time for this process: ``now()``, ``sleep(fleet seconds)``."""

    def __init__(
        self,
        anchor: ClockAnchor,
        offset: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        real_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        #: Redis time − this process's monotonic clock, measured once.
        self.anchor, self.offset = anchor, offset
        self._mono, self._sleep = monotonic, real_sleep

    @classmethod
    def from_redis(
        cls,
        client: redis.Redis,
        keys: Keys,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        real_sleep: Callable[[float], None] = time.sleep,
    ) -> FleetClock:
        """The fleet's clock as anchored in the store; ``RetryableError`` when no fleet has
        started there yet (a worker may come up before the fleet)."""
        anchor = read_anchor(client, keys)
        if anchor is None:
            raise RetryableError(f"no simulated fleet in the store yet ({keys.sim_clock})")
        before = monotonic()
        server = redis_time(client)
        after = monotonic()
        return cls(
            anchor, server - (before + after) / 2, monotonic=monotonic, real_sleep=real_sleep
        )

    @property
    def speed(self) -> float:
        return self.anchor.speed

    def now(self) -> float:
        return self.anchor.fleet_time(self._mono() + self.offset)

    def sleep(self, seconds: float) -> None:
        self._sleep(self.real_seconds(max(seconds, 0.0)))

    def real_seconds(self, fleet_seconds: float) -> float:
        """How long ``fleet_seconds`` of fleet time last in real time."""
        return fleet_seconds / self.anchor.speed
