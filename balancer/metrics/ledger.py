"""The exporter's running totals of what the workers recorded: every ended migration (the
``kvmb:exec:outcomes`` stream) and every power action (``kvmb:exec:power``), read
incrementally — each scrape reads only the entries added since the last one.

Counters and histograms live in the exporter's memory, built from the streams: the first
scrape reads what the streams hold (up to their MAXLEN, ~10,000 entries each), later ones
what was added since. An exporter that restarts starts its counters again from the
streams, which Prometheus sees as a counter reset (``rate`` and ``increase`` handle it).
A migration recorded twice (a redelivered task) is counted once: the ids seen lately are
kept. Label values come from fixed sets (the ``MoveReason`` and ``Mode`` values, the
ladder's rungs, the results); anything else is counted as ``other``, so no label grows
with the cluster.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import get_args

import msgspec
import redis

from balancer.core.migration_model import Mode
from balancer.core.plan import MoveReason
from balancer.state.keys import Keys
from balancer.state.migrations import ENDED, MigrationRecord, decode_record

log = logging.getLogger(__name__)

MODES: frozenset[str] = frozenset(get_args(Mode))
REASONS: frozenset[str] = frozenset(r.value for r in MoveReason)
RESULTS: frozenset[str] = frozenset(ENDED)
#: The ladder's rungs (``LadderConfig.rungs``); ``none``: the migration finished plainly.
FINISHED_BY: frozenset[str] = frozenset({"none", "downtime", "postcopy", "suspend"})
POWER_ACTIONS: frozenset[str] = frozenset({"on", "off"})

DURATION_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)
DOWNTIME_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 30.0)
BYTES_BUCKETS = tuple(float(2**n) for n in range(26, 40, 2))  # 64 MiB .. 256 GiB
RATIO_BUCKETS = (0.25, 0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2.0, 4.0)
PAGE = 2000
#: Migration ids remembered to count a redelivered migration once.
SEEN_IDS = 50_000
DAY_S = 86400.0


def bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else "other"


@dataclass
class Histogram:
    """Non-cumulative bucket counts (the last is +Inf) and the sum, per label set."""

    bounds: tuple[float, ...]
    counts: dict[tuple[str, ...], list[int]] = field(default_factory=dict)
    sums: dict[tuple[str, ...], float] = field(default_factory=dict)

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        counts = self.counts.setdefault(labels, [0] * (len(self.bounds) + 1))
        counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sums[labels] = self.sums.get(labels, 0.0) + value

    def cumulative(self, labels: tuple[str, ...]) -> list[tuple[str, float]]:
        total, out = 0, []
        for bound, n in zip((*map(repr, self.bounds), "+Inf"), self.counts[labels], strict=True):
            total += n
            out.append((bound, float(total)))
        return out


class _Power(msgspec.Struct, frozen=True):
    action: str
    result: str


_power = msgspec.json.Decoder(_Power)


@dataclass
class Ledger:
    """Totals of the migrations and power actions ended so far (see the module doc)."""

    keys: Keys
    #: (result, mode, reason, finished_by) → migrations.
    migrations: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    duration: Histogram = field(default_factory=lambda: Histogram(DURATION_BUCKETS))
    downtime: Histogram = field(default_factory=lambda: Histogram(DOWNTIME_BUCKETS))
    transferred: Histogram = field(default_factory=lambda: Histogram(BYTES_BUCKETS))
    prediction: Histogram = field(default_factory=lambda: Histogram(RATIO_BUCKETS))
    #: (action, result) → power actions.
    power: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (finished_at, vm) of completed migrations, oldest first, for the last day.
    recent: deque[tuple[float, str]] = field(default_factory=deque)
    per_vm_day: Counter[str] = field(default_factory=Counter)
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _cursor: dict[str, str] = field(default_factory=dict)

    def update(self, client: redis.Redis) -> None:
        """Read what the streams gained since the last call."""
        for fields in self._tail(client, self.keys.outcomes):
            raw = fields.get(b"outcome")
            if raw is None:
                continue
            try:
                self.count_migration(decode_record(raw))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning(
                    "%s: a record does not decode (%s); not counted", self.keys.outcomes, exc
                )
        for fields in self._tail(client, self.keys.power_log):
            raw = fields.get(b"record")
            if raw is None:
                continue
            try:
                p = _power.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning(
                    "%s: a record does not decode (%s); not counted", self.keys.power_log, exc
                )
                continue
            self.power[(bounded(p.action, POWER_ACTIONS), bounded(p.result, RESULTS))] += 1

    def _tail(self, client: redis.Redis, stream: str) -> Iterable[dict[bytes, bytes]]:
        start = self._cursor.get(stream, "-")
        while True:
            entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(  # type: ignore[assignment]
                stream, min=start, count=PAGE
            )
            for entry_id, fields in entries:
                self._cursor[stream] = entry_id.decode()
                yield fields
            if len(entries) < PAGE:
                return
            start = "(" + self._cursor[stream]

    def count_migration(self, r: MigrationRecord) -> None:
        if r.id in self._seen:
            return
        self._seen[r.id] = None
        if len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        mode = bounded(r.mode, MODES)
        finished_by = bounded(r.finished_by or "none", FINISHED_BY)
        key = (bounded(r.result, RESULTS), mode, bounded(r.reason, REASONS), finished_by)
        self.migrations[key] += 1
        if r.result != "completed" or r.actual is None:
            return
        labels = (mode,)
        self.duration.observe(labels, r.actual.duration_s)
        if r.actual.downtime_ms is not None:
            self.downtime.observe(labels, r.actual.downtime_ms / 1000.0)
        if r.actual.bytes is not None:
            self.transferred.observe(labels, float(r.actual.bytes))
        if r.predicted is not None and r.predicted.duration_s > 0:
            self.prediction.observe(labels, r.actual.duration_s / r.predicted.duration_s)
        at = r.finished_at if r.finished_at is not None else r.started_at
        self.recent.append((at, r.vm))
        self.per_vm_day[r.vm] += 1

    def most_migrated_in_day(self, now: float) -> int:
        """The most completed migrations of one VM in the day before ``now``."""
        while self.recent and self.recent[0][0] < now - DAY_S:
            _at, vm = self.recent.popleft()
            self.per_vm_day[vm] -= 1
            if self.per_vm_day[vm] <= 0:
                del self.per_vm_day[vm]
        return max(self.per_vm_day.values(), default=0)
