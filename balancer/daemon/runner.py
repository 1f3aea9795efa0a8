"""The daemon process: campaign for the lead in a thread, run a cycle every interval while
leading, stop cleanly on SIGTERM/SIGINT (the lead is given up at once so another daemon
takes over without waiting for the lease to expire).

Every non-leader daemon just campaigns. A cycle that fails (Redis down, a store value
that does not decode) is logged and the next interval tries again: the daemon never dies
of an error it can outlive.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from celery import Celery

from balancer.control.loop import Ports, run_cycle
from balancer.control.ports import Clock, Coordination
from balancer.control.records import CycleRecord
from balancer.control.settings import ControlSettings
from balancer.daemon.celery_sink import CelerySink
from balancer.daemon.leader import DEFAULT_TIMING, LeaderElector, LeaseTiming
from balancer.daemon.redis_history import RedisHistory
from balancer.daemon.redis_snapshots import RedisSnapshots
from balancer.daemon.redis_store import RedisCycleStore
from balancer.errors import BalancerError, InputError
from balancer.state.keys import DEFAULT_KEYS, Keys

log = logging.getLogger(__name__)

#: How often (real seconds) the main loop looks at the clock and the stop flag.
TICK_S = 0.05


def default_identity() -> str:
    """``<host>-<pid>-<random>``: unique per process, readable in `balancer status`."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class DaemonConfig:
    identity: str
    #: Seconds of the daemon's clock between two cycles.
    interval_s: float = 60.0
    timing: LeaseTiming = DEFAULT_TIMING
    keys: Keys = DEFAULT_KEYS

    def check(self) -> DaemonConfig:
        if not (0 < self.interval_s < math.inf):
            raise InputError(
                f"must be a positive number of seconds, not {self.interval_s}", "--interval"
            )
        if not self.identity or any(c.isspace() or not c.isprintable() for c in self.identity):
            raise InputError(f"{self.identity!r} is not a usable daemon id", "--id")
        self.timing.check()
        return self


def redis_ports(
    client: redis.Redis,
    app: Celery,
    keys: Keys,
    clock: Clock,
    settings: ControlSettings,
    coordination: Coordination,
) -> Ports:
    """The loop's ports on Redis and Celery (the daemon's, and the daemon benchmark's)."""
    return Ports(
        clock=clock,
        snapshots=RedisSnapshots(client, keys),
        history=RedisHistory(
            client, keys, step_s=settings.sample_every_s, keep_s=settings.history_s()
        ),
        store=RedisCycleStore(client, keys),
        sink=CelerySink(app, client, keys, clock),
        coordination=coordination,
    )


class Daemon:
    def __init__(
        self,
        client: redis.Redis,
        app: Celery,
        config: DaemonConfig,
        settings: ControlSettings,
        clock: Clock,
        *,
        on_cycle: Callable[[CycleRecord], None] | None = None,
    ) -> None:
        self.config = config.check()
        self.settings = settings
        self.clock = clock
        keys = config.keys
        self.elector = LeaderElector(client, keys, config.identity, config.timing)
        self.ports = redis_ports(client, app, keys, clock, settings, self.elector)
        self._on_cycle = on_cycle
        self.stop = threading.Event()

    def run(self) -> None:
        """Until ``stop`` is set."""
        campaign = threading.Thread(
            target=self.elector.run, args=(self.stop,), name="leader-election", daemon=True
        )
        campaign.start()
        next_at = -math.inf
        try:
            while not self.stop.is_set():
                now = self.clock.now()
                if self.elector.epoch() is not None and now >= next_at:
                    self.cycle()
                    after = self.clock.now()
                    next_at = max(now + self.config.interval_s, after)
                elif self.elector.epoch() is None:
                    next_at = -math.inf  # a new leader runs its first cycle at once
                self.stop.wait(TICK_S)
        finally:
            self.stop.set()
            campaign.join(timeout=self.config.timing.retry_s + 5)
            self.elector.resign()

    def cycle(self) -> CycleRecord | None:
        try:
            record = run_cycle(
                self.ports, self.settings, leader=self.config.identity, timer=time.perf_counter
            )
        except (redis.RedisError, BalancerError) as exc:
            log.warning("cycle failed: %s", exc)
            return None
        except Exception:
            log.exception("cycle failed unexpectedly; the next interval tries again")
            return None
        log.info(
            "cycle (epoch %d): %s; %d move(s) planned, %d sent%s",
            record.epoch,
            record.outcome,
            record.moves_planned,
            record.moves_sent,
            f"; {record.summary}" if record.summary else "",
        )
        if self._on_cycle is not None:
            self._on_cycle(record)
        return record
