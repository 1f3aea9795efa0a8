"""``balancer migrations`` against a real redis-server holding records as the executor
writes them: the table, ``--json`` with exactly the issue's fields, ``--since`` counted
back from the store's clock, ``--limit``; bad input exits 2 naming the option."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import redis

from balancer.state.migrations import Actual, MigrationRecord, Predicted
from workers.executor.records import RedisRecorder

pytestmark = pytest.mark.redis
FIELDS = ["id", "vm", "source", "dest", "mode", "reason", "epoch", "started_at", "finished_at",
          "result", "finished_by", "predicted", "actual"]  # fmt: skip


def balancer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "balancer.cli.main", "migrations", *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "COLUMNS": "200"})  # fmt: skip


def seed(client: redis.Redis) -> float:
    now = float(client.time()[0])
    r = RedisRecorder(client)
    old = MigrationRecord(id="m-old", vm="web-1", source="kvm-01", dest="kvm-02", mode="live",
                          reason="balance", epoch=3, started_at=now - 7200,
                          finished_at=now - 7190, result="completed", finished_by="downtime",
                          predicted=Predicted(duration_s=9.0, downtime_ms=50.0, bytes=1),
                          actual=Actual(duration_s=10.0, downtime_ms=40.0, bytes=1))  # fmt: skip
    r.outcome(old)
    r.outcome(MigrationRecord(id="m-stale", vm="db-1", source="kvm-02", dest="kvm-03",
                              mode="live", reason="evacuation", epoch=2, started_at=now - 60,
                              finished_at=now - 60, result="fenced"))  # fmt: skip
    r.running(MigrationRecord(id="m-run", vm="app-1", source="kvm-03", dest="kvm-01",
                              mode="non-live", reason="relief", epoch=4, started_at=now - 5,
                              result="running"))  # fmt: skip
    return now


def as_json(redis_url: str, *more: str) -> list[dict[str, Any]]:
    r = balancer("--json", "--redis", redis_url, *more)
    assert r.returncode == 0, r.stderr
    out: list[dict[str, Any]] = json.loads(r.stdout)
    return out


def test_json_lists_ended_then_running_with_exactly_the_fields(
    redis_url: str, redis_client: redis.Redis
) -> None:
    now = seed(redis_client)
    got = as_json(redis_url)
    assert [list(m) for m in got] == [FIELDS] * 3
    assert [(m["id"], m["result"]) for m in got] == [
        ("m-old", "completed"), ("m-stale", "fenced"), ("m-run", "running")]  # fmt: skip
    old, stale, run = got
    assert (old["predicted"], old["actual"], old["finished_by"]) == (9.0, 10.0, "downtime")
    assert (stale["predicted"], stale["actual"], stale["epoch"]) == (None, None, 2)
    assert (run["finished_at"], run["mode"], run["reason"]) == (None, "non-live", "relief")
    assert run["started_at"] == now - 5
    assert [m["id"] for m in as_json(redis_url, "--since", "3600")] == ["m-stale", "m-run"]
    assert [m["id"] for m in as_json(redis_url, "--limit", "2")] == ["m-stale", "m-run"]


def test_the_table(redis_url: str, redis_client: redis.Redis) -> None:
    seed(redis_client)
    r = balancer("--redis", redis_url)
    assert r.returncode == 0, r.stderr
    for text in ("Migrations", "m-old", "web-1", "kvm-01 → kvm-02", "completed", "fenced",
                 "running", "downtime", "evacuation"):  # fmt: skip
        assert text in r.stdout, (text, r.stdout)
    redis_client.flushall()
    empty = balancer("--redis", redis_url)
    assert (empty.returncode, empty.stdout.strip()) == (0, "no migrations recorded")


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--since", "-5"], "--since"), (["--since", "soon"], "--since"),
     (["--limit", "0"], "--limit"), (["--redis", "http://x"], "--redis")],
)  # fmt: skip
def test_bad_input_exits_2_naming_the_option(args: list[str], option: str) -> None:
    r = balancer(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert option in r.stderr


def test_an_unreachable_store_exits_1() -> None:
    r = balancer("--redis", "redis://127.0.0.1:1/0")
    assert r.returncode == 1
    assert "error: Redis redis://127.0.0.1:1/0" in r.stderr
