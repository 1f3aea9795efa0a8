"""Leader election on Redis: a lease with a fencing epoch (DESIGN.md §6).

    kvmb:ctl:leader   STRING {"id", "epoch", "since"} with PX = the lease duration
    kvmb:ctl:epoch    STRING: incremented by every daemon that takes the lead

Acquire: one script increments the epoch and sets the leader key with NX and the lease's
expiry, so two daemons can never lead under one epoch. Renew: one script extends the
expiry only if the key still names this daemon *and* its epoch (never GET then PEXPIRE).
Timings as Kubernetes' leader election (client-go ``tools/leaderelection``): a lease of
15 s, a renew deadline of 10 s, a retry period of 2 s, validated as there (lease > renew
deadline > 1.2 x retry).

A leader acts only while ``epoch()`` answers: that is, while its last successful renewal
(timed from *before* the request was sent, so the server's expiry is never earlier than
we think) is less than the renew deadline old. A leader that misses the deadline stops
acting at once, ``lease - renew deadline`` (5 s) before any other daemon can take over. A
leader paused past that (SIGSTOP, a long GC) may wake up in the middle of sending a plan:
its tasks carry its epoch and the workers refuse them where they act (fencing), because
by then a newer epoch exists.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
import redis

from balancer.errors import InputError
from balancer.state.keys import Keys

log = logging.getLogger(__name__)

#: client-go's JitterFactor: the renew deadline must exceed this many retry periods.
JITTER_FACTOR = 1.2

_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local epoch = redis.call('INCR', KEYS[2])
local t = redis.call('TIME')
local since = tonumber(t[1]) + tonumber(t[2]) / 1000000
local doc = string.format('{"id":%s,"epoch":%d,"since":%.6f}', cjson.encode(ARGV[1]), epoch, since)
redis.call('SET', KEYS[1], doc, 'PX', ARGV[2])
redis.call('INCR', KEYS[3])
return epoch
"""

#: The holder check shared by renew and release: the key names this id *and* epoch.
_HELD = """
local cur = redis.call('GET', KEYS[1])
if not cur then
  return 0
end
local doc = cjson.decode(cur)
if doc.id ~= ARGV[1] or tonumber(doc.epoch) ~= tonumber(ARGV[2]) then
  return 0
end
"""
_RENEW = _HELD + "redis.call('PEXPIRE', KEYS[1], ARGV[3])\nreturn 1\n"
_RELEASE = _HELD + "redis.call('DEL', KEYS[1])\nreturn 1\n"


class LeaseTiming(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds, as client-go's ``LeaseDuration``, ``RenewDeadline`` and ``RetryPeriod``."""

    lease_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_s: float = 2.0

    def check(self) -> LeaseTiming:
        """Itself, or an ``InputError`` naming the setting that breaks the rule."""
        for name in ("lease_s", "renew_deadline_s", "retry_s"):
            value = getattr(self, name)
            if not (0 < value < float("inf")):
                raise InputError(f"must be a positive number of seconds, not {value}", name)
        if self.lease_s <= self.renew_deadline_s:
            raise InputError(
                f"the lease ({self.lease_s} s) must be longer than the renew deadline "
                f"({self.renew_deadline_s} s)",
                "lease_s",
            )
        if self.renew_deadline_s <= JITTER_FACTOR * self.retry_s:
            raise InputError(
                f"the renew deadline ({self.renew_deadline_s} s) must be longer than "
                f"{JITTER_FACTOR} x the retry period ({self.retry_s} s)",
                "renew_deadline_s",
            )
        return self


DEFAULT_TIMING = LeaseTiming()


class LeaderInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who leads, under which epoch, since when (Redis time, Unix seconds)."""

    id: str
    epoch: int
    since: float


def current_leader(client: redis.Redis, keys: Keys) -> LeaderInfo | None:
    """The leader as stored now (``None``: no daemon holds the lease)."""
    raw = client.get(keys.leader)
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw, type=LeaderInfo)
    except msgspec.DecodeError:
        log.warning("%s holds %r, not a leader record", keys.leader, raw)
        return None


def current_epoch(client: redis.Redis, keys: Keys) -> int:
    raw = client.get(keys.epoch)
    return int(raw) if raw is not None else 0


@dataclass
class _Held:
    epoch: int
    #: ``monotonic()`` when the last successful renewal (or the acquisition) was sent.
    renewed_at: float


class LeaderElector:
    """Campaigns for the lead and keeps it; ``epoch()`` is the Coordination port.

    ``run(stop)`` loops until ``stop`` is set (a thread of the daemon): every retry
    period it tries to acquire the lease, or renews it while leading. ``epoch()`` may be
    called from any thread; it answers only within the renew deadline.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        identity: str,
        timing: LeaseTiming = DEFAULT_TIMING,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        on_change: Callable[[int | None], None] | None = None,
    ) -> None:
        self.client, self.keys, self.identity = client, keys, identity
        self.timing = timing.check()
        self._monotonic = monotonic
        self._on_change = on_change
        self._lock = threading.Lock()
        self._held: _Held | None = None
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    # -- the Coordination port -----------------------------------------------------
    def epoch(self) -> int | None:
        with self._lock:
            held = self._held
        if held is None:
            return None
        if self._monotonic() - held.renewed_at >= self.timing.renew_deadline_s:
            self._lose(held, "renew deadline missed")
            return None
        return held.epoch

    # -- campaigning -----------------------------------------------------------------
    def step(self) -> int | None:
        """One round: acquire, or renew while leading. The epoch led under, or ``None``."""
        with self._lock:
            held = self._held
        sent = self._monotonic()
        ttl_ms = str(round(self.timing.lease_s * 1000))
        try:
            if held is None:
                epoch = int(
                    self._acquire(
                        keys=[self.keys.leader, self.keys.epoch, self.keys.leader_changes],
                        args=[self.identity, ttl_ms],
                    )
                )
                if epoch:
                    self._take(_Held(epoch, sent))
            else:
                ok = int(
                    self._renew(
                        keys=[self.keys.leader], args=[self.identity, str(held.epoch), ttl_ms]
                    )
                )
                if ok:
                    with self._lock:
                        if self._held is held:
                            held.renewed_at = sent
                else:
                    self._lose(held, "the lease is held by another daemon")
        except redis.RedisError as exc:
            log.warning("leader election: %s", exc)
        return self.epoch()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.step()
            stop.wait(self.timing.retry_s)

    def resign(self) -> None:
        """Give the lead up now (a clean shutdown): another daemon takes over at once."""
        with self._lock:
            held, self._held = self._held, None
        if held is None:
            return
        try:
            self._release(keys=[self.keys.leader], args=[self.identity, str(held.epoch)])
        except redis.RedisError as exc:
            log.warning("leader election: could not release the lease: %s", exc)
        log.info("%s resigned the lead (epoch %d)", self.identity, held.epoch)
        if self._on_change is not None:
            self._on_change(None)

    def _take(self, held: _Held) -> None:
        with self._lock:
            self._held = held
        log.info("%s leads under epoch %d", self.identity, held.epoch)
        if self._on_change is not None:
            self._on_change(held.epoch)

    def _lose(self, held: _Held, why: str) -> None:
        with self._lock:
            if self._held is not held:
                return
            self._held = None
        log.warning("%s stops leading (epoch %d): %s", self.identity, held.epoch, why)
        if self._on_change is not None:
            self._on_change(None)
