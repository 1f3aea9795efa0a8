"""``balancer exporter``: the cluster as the store holds it, on ``/metrics``.

Every scrape reads the store afresh — no cache, so what Prometheus records is never older
than its scrape — through reads cheaper than a snapshot (``host_read``: a report's
host numbers and VM count, not its VMs) plus a few small ones: the migrations running and
their progress, the cluster's slots, the executor's wait counters, the evacuations and
the pause, and what the outcome and power streams gained since the last scrape
(``ledger``). Measured at 10,000 hosts × 40 VMs: docs/metrics.md.

Celery workers are not scraped: every migration, power action, slot wait and retry they
make is recorded in the store (records, streams and ``kvmb:exec:stats``), and this
exporter counts it from there, whatever the workers' pool (threads or processes), their
number or their restarts (docs/metrics.md, "Workers").

Scrapes are served one at a time (a lock); a failed read answers ``kvmb_store_up 0`` with
the exporter's own series, never an error page.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from balancer import __version__
from balancer.control.ports import Clock
from balancer.metrics.catalogue import metric
from balancer.metrics.host_cache import HOST_STATES, POWER_STATES, HostCache, HostsView, age_lines
from balancer.metrics.host_read import HostsRead, count_by
from balancer.metrics.ledger import MODES, Histogram, Ledger, bounded
from balancer.state.exec_stats import RETRY_KINDS, read_exec_stats, slot_wait_buckets
from balancer.state.intents_store import read_intents
from balancer.state.keys import Keys
from balancer.state.migrations import MigrationRecord, decode_record

log = logging.getLogger(__name__)

EVACUATION_STATES = ("running", "cancelled", "done")
#: A running migration with no progress published for this long is stalled (the
#: executor publishes every poll, ~1 s; its progress key lives 60 s).
STALL_S = 60.0
TASKS = ("migrate", "power_on", "power_off", "wave_done")


@dataclass(frozen=True)
class Flight:
    """The migrations running, as read at one scrape."""

    running: tuple[MigrationRecord, ...] = ()
    #: VMs whose migration published progress within the last minute.
    progressing: frozenset[str] = frozenset()
    cluster_slots_used: int = 0


@dataclass
class Scrape:
    """What one scrape read (``ok`` False: the store could not be read)."""

    view: HostsView
    ok: bool = False
    flight: Flight = field(default_factory=Flight)
    stats: dict[str, float] = field(default_factory=dict)
    evacuations: Counter[str] = field(default_factory=Counter)
    vms_left: dict[str, int] = field(default_factory=dict)
    paused: bool = False
    now: float = 0.0
    #: Seconds since the hosts were read (0 when read by this scrape).
    hosts_age_s: float = 0.0

    @property
    def hosts(self) -> HostsRead | None:
        return self.view.read if self.ok else None


def _gauge(name: str) -> GaugeMetricFamily:
    m = metric(name)
    return GaugeMetricFamily(m.family, m.help, labels=list(m.labels))


def _counter(name: str) -> CounterMetricFamily:
    m = metric(name)
    return CounterMetricFamily(m.family, m.help, labels=list(m.labels))


_EMPTY = HostsView(None, "", (), 0.0, 0.0)


class StoreExporter:
    """Reads the store and renders ``/metrics`` (``scrape()``). ``refresh_s`` 0: the hosts
    are read by every scrape; otherwise by ``start()``'s thread every ``refresh_s``."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        clock: Clock,
        *,
        per_vm: bool = False,
        refresh_s: float = 0.0,
    ) -> None:
        self.client, self.keys, self.clock = client, keys, clock
        self.hosts = HostCache(client, keys, per_vm=per_vm, refresh_s=refresh_s)
        self.ledger = Ledger(keys)
        self.read_errors = 0
        self._lock = threading.Lock()
        self._registry = CollectorRegistry(auto_describe=False)
        self._current = Scrape(_EMPTY)
        self._registry.register(_Families(self))

    def start(self) -> None:
        if self.hosts.refresh_s > 0:
            self.hosts.start()

    def stop(self) -> None:
        self.hosts.stop()

    def scrape(self) -> bytes:
        with self._lock:
            view = self.hosts.view() if self.hosts.refresh_s > 0 else self.hosts.refresh()
            self._current = s = self.read(view)
            small = generate_latest(self._registry)
            if not s.ok:
                return small
            return small + (view.lines + age_lines(view, s.now)).encode()

    def read(self, view: HostsView) -> Scrape:
        out = Scrape(view, now=self.clock.now(), hosts_age_s=time.monotonic() - view.at)
        if view.read is None:
            self.read_errors += 1
            return out
        try:
            self.ledger.update(self.client)
            out.flight = self._flight()
            out.stats = read_exec_stats(self.client, self.keys)
            intents = read_intents(self.client, self.keys).intents
        except (redis.RedisError, msgspec.DecodeError) as exc:
            self.read_errors += 1
            log.warning("reading the store failed: %s", exc)
            return out
        out.ok = True
        out.paused = intents.paused is not None
        out.evacuations = Counter(e.state for e in intents.evacuations)
        out.vms_left = {e.host: e.vms_left for e in intents.evacuations if e.state == "running"}
        return out

    def _flight(self) -> Flight:
        running = tuple(decode_record(v) for v in self.client.hvals(self.keys.running))
        if not running:
            return Flight()
        with self.client.pipeline(transaction=False) as pipe:
            pipe.mget([self.keys.progress(r.vm) for r in running])
            pipe.time()
            progress, (seconds, micros) = pipe.execute()
        now = float(seconds) + float(micros) / 1e6
        used = int(self.client.zcount(self.keys.slots_cluster, now, "+inf"))
        moving = frozenset(r.vm for r, p in zip(running, progress, strict=True) if p is not None)
        return Flight(running=running, progressing=moving, cluster_slots_used=used)


class _Families(Collector):
    """The smaller families, through prometheus-client."""

    def __init__(self, exporter: StoreExporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterable[Metric]:
        e, s = self.exporter, self.exporter._current
        m = metric("kvmb_build_info")
        info = InfoMetricFamily(m.family, m.help, labels=[])
        info.add_metric([], {"version": __version__})
        yield info
        yield GaugeMetricFamily("kvmb_store_up", metric("kvmb_store_up").help,
                                value=1.0 if s.ok else 0.0)  # fmt: skip
        yield GaugeMetricFamily("kvmb_store_read_seconds",
                                metric("kvmb_store_read_seconds").help,
                                value=s.view.read_s)  # fmt: skip
        yield GaugeMetricFamily("kvmb_store_read_age_seconds",
                                metric("kvmb_store_read_age_seconds").help,
                                value=s.hosts_age_s)  # fmt: skip
        yield CounterMetricFamily("kvmb_exporter_read_errors",
                                  metric("kvmb_exporter_read_errors_total").help,
                                  value=e.read_errors)  # fmt: skip
        if s.hosts is None:
            return
        yield from self._cluster(s, s.hosts)
        yield from self._migrations(s)
        yield from self._executor(s)
        yield from self._intents(s)

    def _cluster(self, s: Scrape, read: HostsRead) -> Iterable[Metric]:
        yield GaugeMetricFamily("kvmb_store_generation", metric("kvmb_store_generation").help,
                                value=read.generation)  # fmt: skip
        yield GaugeMetricFamily("kvmb_store_unreadable_hosts",
                                metric("kvmb_store_unreadable_hosts").help,
                                value=read.unreadable)  # fmt: skip
        by_state = count_by(read.hosts, "state")
        hosts = _gauge("kvmb_hosts")
        for state in HOST_STATES:
            hosts.add_metric([state], by_state.get(state, 0))
        yield hosts
        by_power = count_by(read.hosts, "power")
        power = _gauge("kvmb_hosts_power")
        for state in POWER_STATES:
            power.add_metric([state], by_power.get(state, 0))
        yield power
        yield GaugeMetricFamily("kvmb_vms", metric("kvmb_vms").help,
                                value=sum(h.vm_count for h in read.hosts))  # fmt: skip

    def _migrations(self, s: Scrape) -> Iterable[Metric]:
        ledger, flight = self.exporter.ledger, s.flight
        in_flight = _gauge("kvmb_migrations_in_flight")
        modes = Counter(bounded(r.mode, MODES) for r in flight.running)
        for mode in sorted(MODES | {"other"} if modes.get("other") else MODES):
            in_flight.add_metric([mode], modes.get(mode, 0))
        yield in_flight
        total = _counter("kvmb_migrations_total")
        for labels, n in sorted(ledger.migrations.items()):
            total.add_metric(list(labels), n)
        yield total
        for name, hist in (
            ("kvmb_migration_duration_seconds", ledger.duration),
            ("kvmb_migration_downtime_seconds", ledger.downtime),
            ("kvmb_migration_transferred_bytes", ledger.transferred),
            ("kvmb_migration_prediction_ratio", ledger.prediction),
        ):
            yield _histogram(name, hist)
        policy = s.hosts.policy if s.hosts is not None else None
        if policy is not None:
            limit = _gauge("kvmb_migration_slots_limit")
            limit.add_metric(["outbound_per_host"], policy.slots.outbound_per_host)
            limit.add_metric(["inbound_per_host"], policy.slots.inbound_per_host)
            limit.add_metric(["cluster"], policy.slots.cluster)
            yield limit
        used = _gauge("kvmb_migration_slots_used")
        out = Counter(r.source for r in flight.running)
        inb = Counter(r.dest for r in flight.running)
        used.add_metric(["outbound_per_host"], max(out.values(), default=0))
        used.add_metric(["inbound_per_host"], max(inb.values(), default=0))
        used.add_metric(["cluster"], flight.cluster_slots_used)
        yield used
        stalled = [
            r for r in flight.running
            if r.vm not in flight.progressing and s.now - r.started_at > STALL_S
        ]  # fmt: skip
        yield GaugeMetricFamily("kvmb_migrations_stalled", metric("kvmb_migrations_stalled").help,
                                value=len(stalled))  # fmt: skip
        oldest = max((s.now - r.started_at for r in flight.running), default=0.0)
        yield GaugeMetricFamily("kvmb_migration_oldest_running_seconds",
                                metric("kvmb_migration_oldest_running_seconds").help,
                                value=max(0.0, oldest))  # fmt: skip
        yield GaugeMetricFamily("kvmb_vm_migrations_max_24h",
                                metric("kvmb_vm_migrations_max_24h").help,
                                value=ledger.most_migrated_in_day(s.now))  # fmt: skip
        power = _counter("kvmb_power_actions_total")
        for (action, result), n in sorted(ledger.power.items()):
            power.add_metric([action, result], n)
        yield power

    def _executor(self, s: Scrape) -> Iterable[Metric]:
        st = s.stats
        m = metric("kvmb_migration_slot_wait_seconds")
        yield HistogramMetricFamily(m.family, m.help, buckets=slot_wait_buckets(st),
                                    sum_value=st.get("slot_wait:sum", 0.0))  # fmt: skip
        yield CounterMetricFamily("kvmb_migration_slot_timeouts",
                                  metric("kvmb_migration_slot_timeouts_total").help,
                                  value=st.get("slot_wait:timeout", 0.0))  # fmt: skip
        yield CounterMetricFamily("kvmb_migration_lease_busy",
                                  metric("kvmb_migration_lease_busy_total").help,
                                  value=st.get("lease_busy", 0.0))  # fmt: skip
        retries = _counter("kvmb_task_retries_total")
        for task in TASKS:
            for kind in RETRY_KINDS:
                n = st.get(f"retry:{task}:{kind}", 0.0)
                retries.add_metric([task, kind], n)
        yield retries

    def _intents(self, s: Scrape) -> Iterable[Metric]:
        evacuations = _gauge("kvmb_evacuations")
        for state in EVACUATION_STATES:
            evacuations.add_metric([state], s.evacuations.get(state, 0))
        yield evacuations
        left = _gauge("kvmb_evacuation_vms_left")
        for host, n in sorted(s.vms_left.items()):
            left.add_metric([host], n)
        yield left
        yield GaugeMetricFamily("kvmb_paused", metric("kvmb_paused").help,
                                value=1.0 if s.paused else 0.0)  # fmt: skip


def _histogram(name: str, hist: Histogram) -> Metric:
    m = metric(name)
    family = HistogramMetricFamily(m.family, m.help, labels=list(m.labels))
    for labels in sorted(hist.counts):
        family.add_metric(list(labels), hist.cumulative(labels), hist.sums[labels])
    return family
