"""The fleet's loop: every report interval, each host that is on publishes its report
with the agent's own code (``publish_report``'s transaction, ``BATCH`` hosts' in one
write: ``publish_reports``), its heartbeat renewed.

One round: read what changed in the store (landings, power, paused guests), end the
migrations that have finished with nobody watching (a worker killed mid-migration: the
run lands or ends all the same), then publish the reports of the hosts that are on, in
``CHUNKS`` slices spread over the interval as independent agents would be (the first
round all at once, so the store is complete from the start). A host that is off
publishes nothing (its heartbeat expires); one that booted publishes from its
``ready_at`` on and is recorded ``on``.

Heartbeats are real Redis time: each lives ``ttl / interval`` report intervals, an
interval being the configured one in real time (interval / speed) or, when a round takes
longer than that (too many hosts for the speed), the time a round took.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec
import redis

from balancer.errors import RetryableError
from balancer.fleet.clock import FleetClock
from balancer.fleet.model import FleetModel
from balancer.fleet.reports import host_reports
from balancer.fleet.store import FleetStore
from balancer.state.publish import decode_resident, publish_reports
from balancer.state.report import with_resident

log = logging.getLogger(__name__)
CHUNKS = 10
#: Reports sent in one write (each its own transaction).
BATCH = 100


class RoundStats(msgspec.Struct, frozen=True, kw_only=True):
    """One round of reports (``--stats`` prints one per line). Seconds are real."""

    round: int
    fleet_time: float
    hosts_on: int
    reports: int
    #: Building and publishing the reports, and reading the store's changes.
    busy_s: float
    build_s: float
    publish_s: float
    sync_s: float
    #: How late the round's last slice started against its due time.
    late_s: float
    #: Migrations found ended at the round's start (landed here if nobody had yet).
    settled: int
    #: Landings read from the store.
    moves: int
    heartbeat_s: float


@dataclass
class _Round:
    build_s: float = 0.0
    publish_s: float = 0.0
    sync_s: float = 0.0
    late_s: float = 0.0
    reports: int = 0
    moves: int = 0


class Publisher:
    def __init__(
        self,
        store: FleetStore,
        model: FleetModel,
        clock: FleetClock,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.model, self.clock = store, model, clock
        self._mono = monotonic
        self._moves_id = model.moves_id
        n = len(model.hosts)
        self._seq = [0] * n
        self._resident: list[Mapping[str, float] | None] = [None] * n
        self._was_on = [False] * n
        self._last_busy = 0.0
        self.rounds = 0
        # The model's structs (hundreds of thousands of VMs) live as long as the process:
        # out of the cyclic collector's scans, which would otherwise rescan them all.
        gc.freeze()

    # -- the loop ----------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event,
        on_round: Callable[[RoundStats], None] | None = None,
        rounds: int | None = None,
    ) -> None:
        """Publish rounds until ``stop`` is set (or ``rounds`` are done); Redis trouble is
        logged and the next round tries again, as an agent does."""
        config = self.model.info.config
        while not stop.is_set() and (rounds is None or self.rounds < rounds):
            begin = self._mono()
            try:
                stats = self.one_round(stop, paced=self.rounds > 0)
            except (redis.RedisError, RetryableError) as exc:
                log.warning("round %d not published: %s", self.rounds, exc)
                stop.wait(self.clock.real_seconds(config.interval_s))
                continue
            real_interval = self.clock.real_seconds(config.interval_s)
            if stats.busy_s > real_interval:
                log.warning(
                    "round %d took %.2f s, more than the interval (%.2f s real): reports come "
                    "less often, heartbeats last %.1f s",
                    stats.round, stats.busy_s, real_interval, stats.heartbeat_s,
                )  # fmt: skip
            if on_round is not None:
                on_round(stats)
            stop.wait(max(0.0, begin + self.clock.real_seconds(config.interval_s) - self._mono()))

    def one_round(self, stop: threading.Event, *, paced: bool = True) -> RoundStats:
        """One round of reports; the cyclic collector paused meanwhile (the reports are
        acyclic and freed as they go; its scans would take a third of the round)."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._round(stop, paced)
        finally:
            if enabled:
                gc.enable()

    def _round(self, stop: threading.Event, paced: bool) -> RoundStats:
        config = self.model.info.config
        begin = self._mono()
        r = _Round()
        at = self.clock.now()
        settled = self._settle_runs(at)
        on = self._hosts_on(at)
        guests = self.store.paused_vms()
        r.moves += self._apply_moves()
        r.sync_s = self._mono() - begin
        heartbeat = (
            config.heartbeat_s
            / config.interval_s
            * max(self.clock.real_seconds(config.interval_s), self._last_busy)
        )
        span = self.clock.real_seconds(config.interval_s) if paced else 0.0
        for k in range(CHUNKS):
            part = on[k::CHUNKS]
            due = begin + span * k / CHUNKS
            delay = due - self._mono()
            if delay > 0 and stop.wait(delay):
                break
            r.late_s = max(r.late_s, -delay)
            if part:
                self._publish(part, guests, heartbeat, r)
        busy = r.build_s + r.publish_s + r.sync_s
        self._last_busy = busy
        self.rounds += 1
        return RoundStats(
            round=self.rounds,
            fleet_time=at,
            hosts_on=len(on),
            reports=r.reports,
            busy_s=round(busy, 4),
            build_s=round(r.build_s, 4),
            publish_s=round(r.publish_s, 4),
            sync_s=round(r.sync_s, 4),
            late_s=round(max(r.late_s, 0.0), 4),
            settled=settled,
            moves=r.moves,
            heartbeat_s=round(heartbeat, 3),
        )

    # -- one slice of hosts ----------------------------------------------------------------
    def _publish(
        self, part: list[int], guests: Mapping[str, str], heartbeat: float, r: _Round
    ) -> None:
        start = self._mono()
        r.moves += self._apply_moves()
        at = self.clock.now()
        # A host powered off since the round began reports no more (a real agent cannot).
        names = [self.model.hosts[i].name for i in part]
        states = self.store.powers_of(names)
        part = [
            i
            for i, s in zip(part, states, strict=True)
            if s is not None and s.effective(at) == "on"
        ]
        if not part:
            return
        for i in part:
            self._seq[i] += 1
        reports = host_reports(
            self.model,
            part,
            at,
            guests,
            [self._seq[i] for i in part],
            heartbeat,
            self.store.load_scale(),
        )
        built = self._mono()
        r.build_s += built - start
        self._read_resident([i for i in part if self._resident[i] is None])
        client, keys = self.store.client, self.store.keys
        history = self.model.info.config.history_len
        for b in range(0, len(part), BATCH):
            hosts = part[b : b + BATCH]
            batch = [
                with_resident(report, self._resident[i] or {})
                for i, report in zip(hosts, reports[b : b + BATCH], strict=True)
            ]
            published = publish_reports(client, keys, batch, history_len=history)
            for i, p in zip(hosts, published, strict=True):
                self._resident[i] = p.resident_mib
        r.publish_s += self._mono() - built
        r.reports += len(part)

    def _read_resident(self, hosts: list[int]) -> None:
        """The executor's measures of the VMs of hosts whose agent just started."""
        if not hosts:
            return
        k = self.store.keys
        with self.store.client.pipeline(transaction=False) as pipe:
            for i in hosts:
                pipe.hgetall(k.vm_resident(self.model.hosts[i].name))
            replies = pipe.execute()
        for i, reply in zip(hosts, replies, strict=True):
            self._resident[i] = decode_resident(reply, k.vm_resident(self.model.hosts[i].name))

    # -- what changed in the store -------------------------------------------------------
    def _apply_moves(self) -> int:
        moves, self._moves_id = self.store.moves_since(self._moves_id)
        for vm, _source, dest in moves:
            self.model.move(vm, dest)
        return len(moves)

    def _settle_runs(self, at: float) -> int:
        """End the migrations that have finished (landing them); how many did."""
        ended = 0
        for vm in self.store.runs():
            _where, _state, view = self.store.settle(vm, at)
            ended += view is None
        return ended

    def _hosts_on(self, at: float) -> list[int]:
        """The hosts that publish this round; booted hosts are recorded ``on``."""
        on = []
        powers = self.store.powers()
        for i, host in enumerate(self.model.hosts):
            stored, power = powers.get(host.name, (b"", None))
            state = "off" if power is None else power.effective(at)
            if state == "on":
                if power is not None and power.state == "booting":
                    self.store.mark_booted(host.name, stored, at)
                on.append(i)
            elif self._was_on[i]:
                self._seq[i] = 0  # a new agent process after the next boot
                self._resident[i] = None
            self._was_on[i] = state == "on"
        return on
