"""What the executor writes down: progress while a migration runs, a ``MigrationRecord``
(``balancer.state.migrations``) when it starts and when it ends.

kvmb:exec:progress:<vm>   STRING JSON ``Progress``, expires 60 s after the last poll
kvmb:exec:running         HASH id → JSON ``MigrationRecord`` of the migrations under way
kvmb:exec:outcome:<vm>    STRING JSON ``MigrationRecord``: the VM's last ended migration
kvmb:exec:outcomes        STREAM (MAXLEN ~10000) field ``outcome``: every ended migration
kvmb:exec:plan:<p>:results
                          HASH id → result of plan ``p``'s tasks (a week after its last write)
kvmb:vm-migrated          ZSET VM → seconds of its last completed migration (cool-down)
kvmb:host:<h>:vm-resident-mib
                          HASH VM → MiB of non-zero memory its last migration measured
                          (``actual.nonzero_bytes``), on the host where the VM now runs;
                          its agent reports it as ``Vm.resident_mib``
kvmb:links                HASH ``<source> <dest>`` → JSON ``Link``: the pair's migration
                          bandwidth, each completed migration's ``actual.bandwidth_mib_s``
                          smoothed in (``smoothed``); snapshots carry it as
                          ``Snapshot.links`` and the planner prices that pair's moves with it

An ended record replaces the running one in one transaction. Redis errors come out as
``RetryableError`` / ``PermanentError`` (``redis_edge``).
"""

from __future__ import annotations

from typing import Protocol

import msgspec
import redis

from balancer.core.migration_model import MIB
from balancer.core.models import Link
from balancer.state.keys import DEFAULT_KEYS, PLAN_KEEP_S, PROGRESS_TTL_S, Keys
from balancer.state.migrations import Actual, MigrationRecord, Step, decode_record
from workers.executor.redis_edge import redis_edge

__all__ = ["Actual", "MemoryRecorder", "MigrationRecord", "Progress", "RedisRecorder", "Step"]
OUTCOME_STREAM_MAXLEN = 10000
#: Weight of a new measurement in a pair's bandwidth (exponential smoothing).
LINK_SMOOTHING = 0.3


def smoothed(old: Link | None, r: MigrationRecord) -> Link | None:
    """The pair's link with ``r``'s throughput smoothed in (``None``: ``r`` measured none)."""
    sample = r.actual.bandwidth_mib_s if r.actual is not None else None
    if r.result != "completed" or sample is None or sample <= 0:
        return None
    at = r.finished_at or r.started_at
    if old is None:
        return Link(source=r.source, dest=r.dest, bandwidth_mib_s=round(sample, 3),
                    samples=1, measured_at=at)  # fmt: skip
    mib_s = old.bandwidth_mib_s + LINK_SMOOTHING * (sample - old.bandwidth_mib_s)
    return Link(source=r.source, dest=r.dest, bandwidth_mib_s=round(mib_s, 3),
                samples=old.samples + 1, measured_at=at)  # fmt: skip


def link_field(source: str, dest: str) -> str:
    return f"{source} {dest}"


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    vm: str
    source: str
    dest: str
    percent: float
    remaining_bytes: int
    iteration: int
    dirty_rate_bytes_s: int
    expected_downtime_ms: int
    postcopy: bool
    ladder: tuple[str, ...]


class Recorder(Protocol):
    def progress(self, p: Progress) -> None: ...

    def running(self, r: MigrationRecord) -> None: ...

    def outcome(self, r: MigrationRecord) -> None: ...

    def started(self, migration_id: str) -> bool:
        """Whether the migration has a running record (it was started, not yet ended)."""


class RedisRecorder:
    def __init__(self, client: redis.Redis, keys: Keys = DEFAULT_KEYS) -> None:
        self.client, self.keys = client, keys

    def progress(self, p: Progress) -> None:
        with redis_edge(f"publish the progress of {p.vm}"):
            self.client.set(self.keys.progress(p.vm), msgspec.json.encode(p), ex=PROGRESS_TTL_S)

    def running(self, r: MigrationRecord) -> None:
        with (
            redis_edge(f"record the migration {r.id} of {r.vm}"),
            self.client.pipeline(transaction=True) as pipe,
        ):
            pipe.hset(self.keys.running, r.id, msgspec.json.encode(r))
            self._plan_result(pipe, r)
            pipe.execute()

    def outcome(self, r: MigrationRecord) -> None:
        data, keys = msgspec.json.encode(r), self.keys
        link = smoothed(self.link(r.source, r.dest), r) if r.actual is not None else None
        with (
            redis_edge(f"record the outcome of {r.id} ({r.vm})"),
            self.client.pipeline(transaction=True) as pipe,
        ):
            pipe.set(keys.outcome(r.vm), data)
            pipe.xadd(keys.outcomes, {"outcome": data}, maxlen=OUTCOME_STREAM_MAXLEN,
                      approximate=True)  # fmt: skip
            pipe.hdel(keys.running, r.id)
            self._plan_result(pipe, r)
            if r.result not in ("fenced", "cancelled"):  # it was this task's migration
                pipe.delete(keys.progress(r.vm))
            self._memory(pipe, r)
            if link is not None:
                pipe.hset(keys.links, link_field(r.source, r.dest), msgspec.json.encode(link))
            pipe.execute()

    def link(self, source: str, dest: str) -> Link | None:
        """The measured link from ``source`` to ``dest`` (``None``: none yet, or a value
        that does not decode: it is measured again)."""
        with redis_edge(f"read the link {source} → {dest}"):
            blob = self.client.hget(self.keys.links, link_field(source, dest))
        try:
            return None if blob is None else msgspec.json.decode(blob, type=Link)
        except msgspec.DecodeError:
            return None

    def started(self, migration_id: str) -> bool:
        with redis_edge(f"read the running record of {migration_id}"):
            return bool(self.client.hexists(self.keys.running, migration_id))

    def _plan_result(self, pipe: redis.client.Pipeline, r: MigrationRecord) -> None:
        if r.plan_id:
            pipe.hset(self.keys.plan_results(r.plan_id), r.id, r.result)
            pipe.expire(self.keys.plan_results(r.plan_id), PLAN_KEEP_S)

    def _memory(self, pipe: redis.client.Pipeline, r: MigrationRecord) -> None:
        """The cool-down's clock and the measured non-zero memory, on the VM's host now."""
        keys, moved = self.keys, r.result == "completed"
        if moved:
            pipe.zadd(keys.vm_migrated, {r.vm: r.finished_at or r.started_at})
            # The measure follows the VM to its new host; a move that measured
            # nothing (offline) forgets it: unknown, all memory counts.
            pipe.hdel(keys.vm_resident(r.source), r.vm)
        nonzero = r.actual.nonzero_bytes if r.actual is not None else None
        if nonzero is not None:
            mib = round(max(nonzero, 0) / MIB, 3)
            pipe.hset(keys.vm_resident(r.dest if moved else r.source), r.vm, repr(mib))
        elif moved:
            pipe.hdel(keys.vm_resident(r.dest), r.vm)

    def outcomes(self) -> list[MigrationRecord]:
        """Every ended record in the stream, oldest first (tests and tools)."""
        entries: list[tuple[bytes, dict[bytes, bytes]]] = self.client.xrange(  # type: ignore[assignment]
            self.keys.outcomes
        )
        return [decode_record(f[b"outcome"]) for _id, f in entries]


class MemoryRecorder:
    """Keeps everything in lists (unit tests)."""

    def __init__(self) -> None:
        self.progresses: list[Progress] = []
        self.runs: list[MigrationRecord] = []
        self.outcomes: list[MigrationRecord] = []
        self.links: dict[tuple[str, str], Link] = {}

    def progress(self, p: Progress) -> None:
        self.progresses.append(p)

    def running(self, r: MigrationRecord) -> None:
        self.runs.append(r)

    def outcome(self, r: MigrationRecord) -> None:
        self.outcomes.append(r)
        link = smoothed(self.links.get((r.source, r.dest)), r)
        if link is not None:
            self.links[(r.source, r.dest)] = link

    def started(self, migration_id: str) -> bool:
        ended = {r.id for r in self.outcomes}
        return any(r.id == migration_id and r.id not in ended for r in self.runs)
