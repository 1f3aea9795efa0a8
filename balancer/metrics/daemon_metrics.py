"""The control loop's metrics, exported by the daemon itself (``balancer daemon
--metrics-port``): it alone knows whether it leads, how long its cycles take and what
they decided. ``on_cycle`` (the daemon's hook) updates them after each cycle; whether it
leads, the store's epoch and leader changes, and the age of its last cycle are read at
each scrape.

The figures of a decision (active hosts, spread, power) are updated only by cycles that
decided — a cycle following a plan in flight decides nothing and leaves them as they
were. Energy saved is the estimated saving (all hosts on − now) integrated over the
daemon's clock from one deciding cycle to the next.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Callable, Iterable

import redis
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from balancer import __version__
from balancer.control.ports import Clock
from balancer.control.records import CycleRecord
from balancer.control.settings import ControlSettings
from balancer.core.plan import MoveReason
from balancer.core.reasons import Reason
from balancer.metrics.catalogue import metric
from balancer.metrics.ledger import bounded
from balancer.state.keys import Keys

log = logging.getLogger(__name__)

# No ``_created`` series beside each counter and histogram (prometheus-client's default):
# they double the series and nothing here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

PHASES = ("snapshot", "history", "decide", "send", "total")
OUTCOMES = ("planned", "following", "paused", "idle", "fenced")
MOVE_REASONS: frozenset[str] = frozenset(r.value for r in MoveReason)
UNMOVABLE: frozenset[str] = frozenset(r.value for r in Reason)
CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


def _args(name: str) -> tuple[str, str]:
    m = metric(name)
    return m.family, m.help


class DaemonMetrics:
    """The daemon's registry; ``on_cycle`` is the ``Daemon``'s hook."""

    def __init__(
        self,
        identity: str,
        interval_s: float,
        settings: ControlSettings,
        clock: Clock,
        *,
        leading: Callable[[], bool],
        client: redis.Redis,
        keys: Keys,
    ) -> None:
        self.clock = clock
        self.registry = r = CollectorRegistry(auto_describe=False)
        Info(*_args("kvmb_daemon_build_info"), registry=r).info(
            {"version": __version__, "daemon": identity}
        )
        leader = Gauge(*_args("kvmb_daemon_leader"), ["daemon"], registry=r)
        leader.labels(identity).set_function(lambda: 1.0 if leading() else 0.0)
        Gauge(*_args("kvmb_daemon_cycle_interval_seconds"), registry=r).set(interval_s)
        self._started_at = clock.now()
        self._last_ok: float | None = None
        Gauge(*_args("kvmb_daemon_last_cycle_age_seconds"), registry=r).set_function(self._age)
        self.cycles = Counter(*_args("kvmb_daemon_cycles_total"), ["outcome"], registry=r)
        self.duration = Histogram(*_args("kvmb_daemon_cycle_duration_seconds"), ["phase"],
                                  buckets=CYCLE_BUCKETS, registry=r)  # fmt: skip
        self.moves = Counter(*_args("kvmb_daemon_moves_planned_total"), ["reason"], registry=r)
        self.power = Counter(*_args("kvmb_daemon_power_actions_planned_total"), ["action"],
                             registry=r)  # fmt: skip
        self.unmovable = Gauge(*_args("kvmb_daemon_unmovable_vms"), ["reason"], registry=r)
        self.active = Gauge(*_args("kvmb_daemon_active_hosts"), registry=r)
        self.lower_bound = Gauge(*_args("kvmb_daemon_active_hosts_lower_bound"), registry=r)
        self.spread = Gauge(*_args("kvmb_daemon_utilization_spread_ratio"), registry=r)
        if settings.balance_above is not None:
            Gauge(*_args("kvmb_daemon_balance_line_ratio"), registry=r).set(settings.balance_above)
        Gauge(*_args("kvmb_daemon_relief_line_ratio"), registry=r).set(settings.relieve_above)
        self.watts = Gauge(*_args("kvmb_daemon_power_watts"), registry=r)
        self.all_on_watts = Gauge(*_args("kvmb_daemon_power_all_on_watts"), registry=r)
        self.saved = Counter(*_args("kvmb_daemon_energy_saved_joules_total"), registry=r)
        self._saving: tuple[float, float] | None = None  # (at, watts saved then)
        # Every label value of a fixed set exists from the start (at 0), so a rate or a
        # "by reason" query has a series before the first occurrence.
        for outcome in OUTCOMES:
            self.cycles.labels(outcome)
        for phase in PHASES:
            self.duration.labels(phase)
        for move_reason in MOVE_REASONS:
            self.moves.labels(move_reason)
        for action in ("on", "off"):
            self.power.labels(action)
        for reason in UNMOVABLE:
            self.unmovable.labels(reason).set(0)
        r.register(_StoreFigures(client, keys))

    def _age(self) -> float:
        since = self._started_at if self._last_ok is None else self._last_ok
        return max(0.0, self.clock.now() - since)

    def on_cycle(self, record: CycleRecord) -> None:
        self.cycles.labels(bounded(record.outcome, frozenset(OUTCOMES))).inc()
        if record.outcome != "fenced":
            self._last_ok = record.at
        for phase, seconds in record.phases.items():
            self.duration.labels(phase).observe(seconds)
        self.duration.labels("total").observe(record.seconds)
        if "decide" not in record.phases:
            return  # followed a plan in flight (or lost the lead): nothing decided
        for reason, n in record.reasons.items():
            self.moves.labels(bounded(reason, MOVE_REASONS)).inc(n)
        self.power.labels("on").inc(len(record.power_on))
        self.power.labels("off").inc(len(record.power_off))
        counts = Tally(dict.fromkeys(UNMOVABLE, 0))
        for reason, n in record.unmovable.items():
            counts[bounded(reason, UNMOVABLE)] += n
        for reason, n in counts.items():
            self.unmovable.labels(reason).set(n)
        self.active.set(record.active_hosts)
        self.lower_bound.set(record.active_hosts_lower_bound)
        self.spread.set(record.spread)
        self.watts.set(record.power_w)
        self.all_on_watts.set(record.power_all_on_w)
        if self._saving is not None and record.at > self._saving[0]:
            self.saved.inc(self._saving[1] * (record.at - self._saving[0]))
        self._saving = (record.at, max(0.0, record.power_all_on_w - record.power_w))


class _StoreFigures(Collector):
    """The epoch and leader changes, as the store holds them at the scrape."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client, self.keys = client, keys

    def collect(self) -> Iterable[Metric]:
        try:
            epoch, changes = self.client.mget([self.keys.epoch, self.keys.leader_changes])
        except redis.RedisError as exc:
            log.warning("metrics: the store does not answer: %s", exc)
            return
        yield GaugeMetricFamily(*_args("kvmb_daemon_epoch"), value=float(epoch or 0))
        yield CounterMetricFamily(
            *_args("kvmb_daemon_leader_changes_total"), value=float(changes or 0)
        )
