"""What the executor writes down: progress while a migration runs, an outcome when it ends.

kvmb:exec:progress:<vm>   STRING JSON ``Progress``, expires 60 s after the last poll
kvmb:exec:outcome:<vm>    STRING JSON ``Outcome`` of the VM's last migration
kvmb:exec:outcomes        STREAM (MAXLEN ~10000) field ``outcome``: every outcome
kvmb:vm-migrated          ZSET VM → epoch seconds (read by the planner's cool-down)
kvmb:host:<h>:vm-resident-mib
                          HASH VM → MiB of non-zero memory its last migration measured
                          (``actual.nonzero_bytes``), on the host where the VM now runs;
                          its agent reports it as ``Vm.resident_mib``
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec
import redis

from balancer.core.migration_model import MIB
from balancer.state.keys import DEFAULT_PREFIX, Keys
from workers.executor.order import Predicted

Result = Literal["migrated", "already-there", "aborted", "failed"]
PROGRESS_TTL_S = 60
OUTCOME_STREAM_MAXLEN = 10000


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One rung of the ladder (or a lifecycle step), with why it was taken."""

    at_s: float
    step: str
    reason: str
    value: int | None = None


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


class Actual(msgspec.Struct, frozen=True, kw_only=True):
    duration_s: float
    downtime_ms: float | None
    bytes: int | None
    #: The guest's non-zero memory seen by the migration (total − zero pages): what the
    #: next move's first pass will send (``migration_model.precopy(resident_mib=…)``).
    nonzero_bytes: int | None = None


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    vm: str
    source: str
    dest: str
    mode: str
    result: Result
    started_at: float
    ended_at: float
    predicted: Predicted | None
    actual: Actual
    steps: tuple[Step, ...]
    #: The ladder step that let the migration finish ("" when plain migration did).
    finished_by: str = ""
    detail: str = ""


class Recorder(Protocol):
    def progress(self, p: Progress) -> None: ...

    def outcome(self, o: Outcome) -> None: ...


class RedisRecorder:
    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self.client, self.prefix = client, prefix

    def progress(self, p: Progress) -> None:
        key = f"{self.prefix}:exec:progress:{p.vm}"
        self.client.set(key, msgspec.json.encode(p), ex=PROGRESS_TTL_S)

    def outcome(self, o: Outcome) -> None:
        data, keys = msgspec.json.encode(o), Keys(self.prefix)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(f"{self.prefix}:exec:outcome:{o.vm}", data)
            pipe.xadd(
                f"{self.prefix}:exec:outcomes",
                {"outcome": data},
                maxlen=OUTCOME_STREAM_MAXLEN,
                approximate=True,
            )
            pipe.delete(f"{self.prefix}:exec:progress:{o.vm}")
            moved = o.result == "migrated"
            if moved:
                pipe.zadd(keys.vm_migrated, {o.vm: o.ended_at})
                # The measure follows the VM to its new host; a move that measured
                # nothing (offline) forgets it: unknown, all memory counts.
                pipe.hdel(keys.vm_resident(o.source), o.vm)
            if o.actual.nonzero_bytes is not None:
                mib = round(max(o.actual.nonzero_bytes, 0) / MIB, 3)
                pipe.hset(keys.vm_resident(o.dest if moved else o.source), o.vm, repr(mib))
            elif moved:
                pipe.hdel(keys.vm_resident(o.dest), o.vm)
            pipe.execute()

    def outcomes(self) -> list[Outcome]:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = self.client.xrange(  # type: ignore[assignment]
            f"{self.prefix}:exec:outcomes"
        )
        return [msgspec.json.decode(f[b"outcome"], type=Outcome) for _id, f in entries]


class MemoryRecorder:
    """Keeps everything in lists (unit tests)."""

    def __init__(self) -> None:
        self.progresses: list[Progress] = []
        self.outcomes: list[Outcome] = []

    def progress(self, p: Progress) -> None:
        self.progresses.append(p)

    def outcome(self, o: Outcome) -> None:
        self.outcomes.append(o)
