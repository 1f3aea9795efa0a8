"""The migration records' reader (``balancer.state.migrations``) over what the executor's
recorder writes: running and ended records newest last, ``since`` and ``limit``, a
redelivered migration once, per-plan results."""

from __future__ import annotations

import fakeredis

from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.migrations import Actual, MigrationRecord, list_migrations, plan_results
from workers.executor.records import RedisRecorder


def rec(id: str, started: float, finished: float | None, result: str = "completed",
        plan: str = "p1") -> MigrationRecord:  # fmt: skip
    return MigrationRecord(
        id=id, plan_id=plan, vm=f"vm-{id}", source="a", dest="b", mode="live",
        reason="balance", epoch=4, started_at=started, finished_at=finished,
        result=result,  # type: ignore[arg-type]
        actual=None if finished is None else Actual(duration_s=finished - started,
                                                    downtime_ms=None, bytes=None),
    )  # fmt: skip


def test_running_and_ended_newest_last(client: fakeredis.FakeRedis) -> None:
    r = RedisRecorder(client)
    r.running(rec("m1", 10.0, None, "running"))
    r.running(rec("m2", 20.0, None, "running"))
    r.outcome(rec("m1", 10.0, 30.0))
    r.running(rec("m3", 25.0, None, "running"))
    r.outcome(rec("m4", 26.0, 26.0, "fenced", plan="p2"))
    got = list_migrations(client, KEYS)
    assert [(m.id, m.result) for m in got] == [
        ("m4", "fenced"), ("m1", "completed"), ("m2", "running"), ("m3", "running")]  # fmt: skip
    assert got[2].finished_at is None  # ended by end time (26 s, 30 s), then the running
    assert plan_results(client, KEYS, "p1") == {"m1": "completed", "m2": "running",
                                                "m3": "running"}  # fmt: skip
    assert plan_results(client, KEYS, "p2") == {"m4": "fenced"}
    assert 0 < client.ttl(KEYS.plan_results("p1")) <= 7 * 86400
    assert plan_results(client, KEYS, "nothing") == {}


def test_since_and_limit(client: fakeredis.FakeRedis) -> None:
    r = RedisRecorder(client)
    for i in range(5):
        r.outcome(rec(f"m{i}", 100.0 * i, 100.0 * i + 50))
    r.running(rec("run", 480.0, None, "running"))
    assert [m.id for m in list_migrations(client, KEYS, since=251.0)] == ["m3", "m4", "run"]
    assert [m.id for m in list_migrations(client, KEYS, limit=2)] == ["m4", "run"]
    assert [m.id for m in list_migrations(client, KEYS, limit=1)] == ["run"]
    assert [m.id for m in list_migrations(client, KEYS, since=1e9)] == ["run"]


def test_a_redelivered_migration_is_listed_once_as_last_recorded(
    client: fakeredis.FakeRedis,
) -> None:
    r = RedisRecorder(client)
    r.outcome(rec("m1", 10.0, 20.0, "completed"))
    r.outcome(rec("m1", 10.0, 40.0, "completed"))  # the redelivery converged
    [m] = list_migrations(client, KEYS)
    assert m.finished_at == 40.0


def test_reading_pages_back_through_a_long_stream(client: fakeredis.FakeRedis) -> None:
    r = RedisRecorder(client)
    for i in range(2500):
        r.outcome(rec(f"m{i}", float(i), float(i) + 0.5))
    assert len(list_migrations(client, KEYS)) == 2500
    assert [m.id for m in list_migrations(client, KEYS, since=2497.0)] == ["m2497", "m2498",
                                                                           "m2499"]  # fmt: skip
    assert next(m.id for m in list_migrations(client, KEYS, limit=1200)) == "m1300"
