"""The fence on a real Celery worker and a real redis-server (simulated hypervisor in real
time, its actions logged to a file): a stale epoch starts nothing and is recorded
``fenced``; a cancelled move is ``cancelled``; an epoch that goes stale mid-migration lets
the migration finish but climbs no rung; ``balancer migrations --json`` shows the move
running, then ended; Redis restarted mid-migration does not fail the move."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from balancer.core.plan import MoveReason
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.migrations import list_migrations
from tests.fixtures.redis_server import RedisFactory, RedisServer
from tests.integration.sim_worker import outcomes, sim_calls, sim_worker, wait_until
from workers.celery_app import make_app
from workers.dispatch import cancel_plan_moves
from workers.executor.order import LadderConfig, MigrationOrder, encode

pytestmark = pytest.mark.redis
RESULT_TIMEOUT_S = 120
FAST = LadderConfig(poll_s=0.2)
SIM = {"a": {"stale": {"memory_mib": 100}, "gone": {"memory_mib": 100},
             "slow": {"memory_mib": 400, "dirty_mib_s": 30, "working_set_mib": 100},
             "long": {"memory_mib": 1000}},
       "b": {}}  # fmt: skip
MIGRATIONS_FIELDS = {"id", "vm", "source", "dest", "mode", "reason", "epoch", "started_at",
                     "finished_at", "result", "finished_by", "predicted", "actual"}  # fmt: skip


def order(vm: str, epoch: int | None, **kw: Any) -> dict[str, object]:
    fields: dict[str, Any] = {"mode": "live"} | kw
    return encode(MigrationOrder(id=f"m-{vm}", plan_id="p1", epoch=epoch, vm=vm, source="a",
                                 dest="b", memory_mib=SIM["a"][vm]["memory_mib"],
                                 reason=MoveReason.RELIEF, ladder=FAST, **fields))  # fmt: skip


def send(app: Celery, o: dict[str, object]) -> Any:
    return app.send_task("balancer.migrate", args=[o], task_id=str(o["id"]))


def migrations_json(redis_url: str, *more: str) -> list[dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "balancer.cli.main", "migrations", "--json",
                        "--redis", redis_url, *more],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out: list[dict[str, Any]] = json.loads(r.stdout)
    return out


@pytest.fixture
def client_app(redis_server: RedisServer, redis_url: str) -> Iterator[Celery]:
    app = make_app(redis_url)
    yield app
    app.close()


@pytest.fixture
def worker(tmp_path: Path, redis_url: str) -> Iterator[Any]:
    w = sim_worker(tmp_path, redis_url, SIM, concurrency=2)
    w.start()
    yield w
    w.stop()


def test_a_stale_epoch_is_fenced_and_nothing_starts(
    tmp_path: Path, worker: Any, client_app: Celery, redis_client: redis.Redis
) -> None:
    redis_client.set(KEYS.epoch, 8)  # a newer leader took over
    result = send(client_app, order("stale", epoch=7))
    record = result.get(timeout=RESULT_TIMEOUT_S)
    assert result.successful()  # refused, not failed, not retried
    result.forget()
    assert (record["result"], record["epoch"]) == ("fenced", 7)
    assert "current epoch is 8" in record["detail"]
    assert [(o.id, o.result) for o in outcomes(redis_client)] == [("m-stale", "fenced")]
    assert sim_calls(tmp_path) == []  # the hypervisor was asked nothing


def test_a_cancelled_move_is_recorded_cancelled(
    tmp_path: Path, worker: Any, client_app: Celery, redis_client: redis.Redis
) -> None:
    assert cancel_plan_moves(redis_client, KEYS, ["m-gone"]) == 1
    result = send(client_app, order("gone", epoch=None))
    assert result.get(timeout=RESULT_TIMEOUT_S)["result"] == "cancelled"
    result.forget()
    assert [o.result for o in outcomes(redis_client)] == ["cancelled"]
    assert sim_calls(tmp_path) == []


def test_stale_mid_migration_finishes_without_a_rung_and_is_listed(
    tmp_path: Path, worker: Any, client_app: Celery, redis_client: redis.Redis, redis_url: str
) -> None:
    """A planned post-copy move switches after its first pass (4 s here): the epoch goes
    stale before that, so it finishes pre-copy. ``balancer migrations`` lists it running,
    then completed."""
    redis_client.set(KEYS.epoch, 3)
    o = order("slow", epoch=3, mode="live-postcopy", allow_postcopy=True)
    result = send(client_app, o)
    wait_until("the migration to run", lambda: bool(redis_client.hlen(KEYS.running)))
    redis_client.incr(KEYS.epoch)
    [running] = migrations_json(redis_url)
    assert set(running) == MIGRATIONS_FIELDS
    assert (running["id"], running["result"], running["finished_at"]) == ("m-slow", "running",
                                                                          None)  # fmt: skip
    record = result.get(timeout=RESULT_TIMEOUT_S)
    result.forget()
    assert record["result"] == "completed"
    assert record["finished_by"] == ""
    steps = [s["step"] for s in record["steps"]]
    assert "fenced" in steps
    assert "postcopy" not in steps
    calls = [c for c, _vm in sim_calls(tmp_path)]
    assert calls[0] == "start"
    assert not {"start_postcopy", "set_max_downtime", "suspend"} & set(calls)
    assert calls[-1] == "mark"
    [ended] = migrations_json(redis_url, "--since", "600")
    assert set(ended) == MIGRATIONS_FIELDS
    assert (ended["result"], ended["epoch"], ended["reason"], ended["mode"]) == (
        "completed", 3, "relief", "live-postcopy")  # fmt: skip
    assert ended["finished_at"] > ended["started_at"]
    assert ended["actual"] > 3.0  # 400 MiB at 100 MiB/s, then small rounds
    assert list_migrations(redis_client, KEYS, limit=1)[0].id == "m-slow"


def test_redis_restarted_mid_migration_does_not_fail_the_move(
    tmp_path: Path, redis_server_factory: RedisFactory
) -> None:
    server = redis_server_factory(persistent=True)
    client = server.client()
    worker = sim_worker(tmp_path, server.url, SIM, concurrency=2)
    worker.start()
    app = make_app(server.url)
    try:
        result = send(app, order("long", epoch=None))  # 1000 MiB at 100 MiB/s: 10 s
        wait_until("the migration to run", lambda: bool(client.hlen(KEYS.running)))
        server.restart()  # SIGTERM, the append-only file kept, the same port
        wait_until("the move's record", lambda: bool(outcomes(client)), timeout_s=120)
        record = result.get(timeout=RESULT_TIMEOUT_S)
    finally:
        app.close()
        worker.stop()
    ended = outcomes(client)
    assert record["result"] == "completed"
    assert {o.result for o in ended} == {"completed"}, ended  # never "failed"
    assert {o.id for o in ended} == {"m-long"}
    assert client.hlen(KEYS.running) == 0
    assert [c for c, _ in sim_calls(tmp_path)].count("start") == 1  # started once only
    client.close()
