"""What the leading daemon would do now, from the store, writing nothing: the daemon's
own steps (``balancer.control.loop.prepare``, then ``decide``) through read-only ports.
``balancer plan`` and ``balancer explain`` without a snapshot file show it.

The ports read what the daemon's read (the snapshot at the daemon's clock, the per-VM
history, the cycle's memory, the intents, the plan in flight) and drop every write: no
history sample, no evacuation bookkeeping, no cancellation, nothing sent. The settings
are those the last daemon started with (``Keys.daemon_settings``, written by ``balancer
daemon``), the defaults when none did, or the caller's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import msgspec
import redis

from balancer.control.cycle import Decision, decide
from balancer.control.intents import Intents
from balancer.control.loop import Ports, prepare
from balancer.control.records import InFlight
from balancer.control.settings import ControlSettings
from balancer.core.emptying import hosts_to_empty, left_behind
from balancer.core.models import Snapshot
from balancer.core.plan import Plan, Unmovable
from balancer.daemon.celery_sink import read_in_flight
from balancer.daemon.redis_history import RedisHistory
from balancer.daemon.redis_store import RedisCycleStore
from balancer.fleet.clock import read_anchor, redis_time
from balancer.state.keys import Keys
from balancer.state.snapshot_read import snapshot_from_redis

log = logging.getLogger(__name__)
_settings = msgspec.json.Decoder(ControlSettings)


@dataclass(frozen=True)
class DryRun:
    snapshot: Snapshot
    decision: Decision
    flight: InFlight
    #: A plan is in flight and the daemon follows it: it decides nothing new until that
    #: ends (``decision`` is what it would decide now with the flight's VMs busy).
    following: bool
    settings: ControlSettings
    #: Where the settings came from: ``store`` (the last daemon's), ``defaults``, ``given``.
    settings_from: str

    #: The operators' intents as the daemon would see them (with its bookkeeping).
    intents: Intents

    def left_behind(self) -> tuple[Unmovable, ...]:
        """VMs the decision leaves on a host to be emptied: neither moving now (in the
        plan in flight) nor on a host whose evacuation was cancelled."""
        policy = self.snapshot.policy
        hosts = hosts_to_empty(self.snapshot, policy) - self.intents.held_hosts()
        hosts |= {e.host for e in self.intents.running_evacuations()}
        stuck = left_behind(self.snapshot, policy, self.decision.plan, hosts=hosts)
        return tuple(u for u in stuck if u.vm not in self.flight.vms)


def publish_settings(client: redis.Redis, keys: Keys, settings: ControlSettings) -> None:
    """Record the settings a daemon runs by (``balancer daemon`` at start)."""
    client.set(keys.daemon_settings, msgspec.json.encode(settings))


def stored_settings(client: redis.Redis, keys: Keys) -> ControlSettings | None:
    raw = client.get(keys.daemon_settings)
    if raw is None:
        return None
    try:
        return _settings.decode(raw)
    except (msgspec.DecodeError, ValueError) as exc:
        log.warning("%s does not decode (%s); the defaults are used", keys.daemon_settings, exc)
        return None


def daemon_now(client: redis.Redis, keys: Keys) -> float:
    """The daemon's clock: the simulated fleet's when one runs in the store, else Unix."""
    anchor = read_anchor(client, keys)
    return time.time() if anchor is None else anchor.fleet_time(redis_time(client))


class _Snapshots:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client, self.keys = client, keys

    def snapshot(self, now: float) -> Snapshot:
        return snapshot_from_redis(self.client, keys=self.keys, now=now)


class _History(RedisHistory):
    def record(self, snapshot: Snapshot) -> None:
        """Nothing recorded: a dry run reads the daemon's samples only."""


class _Store(RedisCycleStore):
    def update_evacuations(self, evacuations: object, epoch: int) -> bool:
        return True  # the daemon's bookkeeping, not a dry run's


class _Sink:
    def __init__(self, client: redis.Redis, keys: Keys, now: float) -> None:
        self.client, self.keys, self.now = client, keys, now

    def in_flight(self) -> InFlight:
        return read_in_flight(self.client, self.keys, self.now)[0]

    def cancel(self, vms: frozenset[str], hosts: frozenset[str]) -> int:
        return 0

    def send(self, plan: Plan, snapshot: Snapshot, epoch: int, plan_id: str) -> int:
        raise AssertionError("a dry run sends nothing")


class _Clock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        raise AssertionError("a dry run does not wait")


class _NotLeading:
    def epoch(self) -> int | None:
        return None


def dry_run(
    client: redis.Redis,
    keys: Keys,
    *,
    settings: ControlSettings | None = None,
    now: float | None = None,
) -> DryRun:
    """The daemon's decision now, computed here; nothing is written to the store."""
    source = "given"
    if settings is None:
        settings = stored_settings(client, keys)
        source = "store" if settings is not None else "defaults"
        settings = settings or ControlSettings()
    at = daemon_now(client, keys) if now is None else now
    ports = Ports(
        clock=_Clock(at),
        snapshots=_Snapshots(client, keys),
        history=_History(client, keys, step_s=settings.sample_every_s, keep_s=settings.history_s()),
        store=_Store(client, keys),
        sink=_Sink(client, keys, at),
        coordination=_NotLeading(),
    )
    ready = prepare(ports, settings, 0, at)
    decision = decide(ready.situation, ready.memory, settings)
    return DryRun(
        snapshot=ready.situation.snapshot,
        decision=decision,
        flight=ready.flight,
        following=ready.following,
        settings=settings,
        settings_from=source,
        intents=ready.situation.intents,
    )
