"""Migration records: what the executor writes while a migration runs and when it ends, and
the reader ``balancer migrations`` and the daemon use.

    kvmb:exec:running               HASH id → JSON ``MigrationRecord`` (result ``running``)
    kvmb:exec:outcomes              STREAM, field ``outcome``: a JSON ``MigrationRecord`` per
                                    ended migration, in the order they ended (MAXLEN ~10000)
    kvmb:exec:outcome:<vm>          STRING: the VM's last ended record
    kvmb:exec:plan:<plan>:results   HASH id → result of one plan's tasks (a week)

The executor writes a record to ``running`` when it starts (or adopts) a migration and, in
one transaction, moves it to the stream when the migration ends. Results: ``completed``
(the VM runs on its destination; also when an earlier delivery of the same move had
landed it), ``failed`` (it did not move: aborted, refused by preflight, or not where it
should be afterwards; ``detail`` says which), ``fenced`` (the order's epoch was stale
before anything started), ``cancelled`` (the move or its plan was cancelled before it
started). Times are seconds of the recorder's clock (Unix time; fleet time in a
simulated fleet).
"""

from __future__ import annotations

from typing import Literal

import msgspec
import redis

from balancer.state.keys import Keys

Result = Literal["running", "completed", "failed", "fenced", "cancelled"]
#: The results of a migration that has ended.
ENDED: tuple[Result, ...] = ("completed", "failed", "fenced", "cancelled")
PAGE = 1000


class Predicted(msgspec.Struct, frozen=True, kw_only=True):
    """The plan's estimate of a move."""

    duration_s: float
    downtime_ms: float
    bytes: int


class Actual(msgspec.Struct, frozen=True, kw_only=True):
    """What the migration measured (the completed job's statistics when there are any)."""

    duration_s: float
    downtime_ms: float | None
    bytes: int | None
    #: The guest's non-zero memory seen by the migration (total − zero pages): what the
    #: next move's first pass will send (``migration_model.precopy(resident_mib=…)``).
    nonzero_bytes: int | None = None


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One rung of the ladder (or a lifecycle step), with why it was taken; ``at_s``
    counts from the migration's start."""

    at_s: float
    step: str
    reason: str
    value: int | None = None


class MigrationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One migration: running (``finished_at`` None, ``result`` ``running``) or ended."""

    id: str
    plan_id: str = ""
    vm: str
    source: str
    dest: str
    mode: str
    #: Why the VM moves (a ``balancer.core.plan.MoveReason`` value).
    reason: str
    #: The leader's fencing epoch the order was sent under (None: an operator's move).
    epoch: int | None
    started_at: float
    finished_at: float | None = None
    result: Result
    #: The ladder step that let the migration finish ("" for a plain migration).
    finished_by: str = ""
    predicted: Predicted | None = None
    actual: Actual | None = None
    steps: tuple[Step, ...] = ()
    detail: str = ""


_decoder = msgspec.json.Decoder(MigrationRecord)


def decode_record(raw: bytes | str) -> MigrationRecord:
    return _decoder.decode(raw)


def list_migrations(
    client: redis.Redis, keys: Keys, since: float | None = None, limit: int | None = None
) -> list[MigrationRecord]:
    """Every migration, newest last: the ended ones (those that ended at ``since`` or
    later, when given) by end time, then the running ones by start time. ``limit`` keeps
    the newest that many. A migration recorded twice (a redelivered task) appears once,
    as last recorded."""
    with client.pipeline(transaction=True) as pipe:
        pipe.hvals(keys.running)
        pipe.xrevrange(keys.outcomes, count=PAGE)
        raw_running, page = pipe.execute()
    running = sorted((decode_record(v) for v in raw_running), key=lambda r: r.started_at)
    wanted = None if limit is None else max(limit - len(running), 0)
    ended: dict[str, MigrationRecord] = {}
    while page and (wanted is None or len(ended) < wanted):
        older = 0
        for _entry_id, fields in page:
            record = decode_record(fields[b"outcome"])
            if since is not None and (record.finished_at or 0.0) < since:
                older += 1
                continue
            ended.setdefault(record.id, record)
        if older == len(page) or len(page) < PAGE:
            break  # a whole page before ``since``, or the stream's start
        page = client.xrevrange(keys.outcomes, max=f"({_text(page[-1][0])}", count=PAGE)
    running = [r for r in running if r.id not in ended]
    out = sorted(ended.values(), key=lambda r: r.finished_at or 0.0) + running
    return out if limit is None else out[len(out) - min(limit, len(out)) :]


def running_migrations(client: redis.Redis, keys: Keys) -> list[MigrationRecord]:
    """The migrations under way, by start time."""
    records = (decode_record(v) for v in client.hvals(keys.running))
    return sorted(records, key=lambda r: r.started_at)


def plan_results(client: redis.Redis, keys: Keys, plan_id: str) -> dict[str, str]:
    """Migration (and power-task) id → result of the plan's tasks recorded so far;
    a task not yet taken up by a worker is absent."""
    raw: dict[bytes, bytes] = client.hgetall(keys.plan_results(plan_id))  # type: ignore[assignment]
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
