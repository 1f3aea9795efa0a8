"""The executor behind a real Celery worker process and a real redis-server, with the
simulated hypervisor (real time) inside the worker: slots, failures, redelivery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
from celery import Celery

from balancer.core.models import Slots
from balancer.state.keys import DEFAULT_KEYS as KEYS
from tests.fixtures.redis_server import RedisServer
from tests.integration.celery_worker import CeleryWorker
from workers.celery_app import make_app
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.order import MigrationOrder, encode
from workers.executor.records import RedisRecorder

pytestmark = pytest.mark.redis
RESULT_TIMEOUT_S = 120


def sim_file(path: Path, vms: dict[str, dict[str, Any]]) -> Path:
    doc = {"bandwidth_mib_s": 100, "hosts": {"a": vms, "b": {}, "c": {}, "d": {}}}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def worker_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    vms = {f"vm{i}": {"memory_mib": 200} for i in range(6)}
    return {
        "BALANCER_REDIS_URL": redis_url,
        "BALANCER_HYPERVISOR": "sim",
        "BALANCER_SIM_FILE": str(sim_file(tmp_path / "sim.json", vms)),
        "BALANCER_SLOT_WAIT_S": "60",
        "BALANCER_VISIBILITY_TIMEOUT_S": "3600",
    }


@pytest.fixture
def worker(tmp_path: Path, worker_env: dict[str, str]) -> Iterator[CeleryWorker]:
    w = CeleryWorker(tmp_path / "worker", worker_env, concurrency=4)
    w.start()
    yield w
    w.stop()


@pytest.fixture
def client_app(redis_server: RedisServer, redis_url: str) -> Iterator[Celery]:
    app = make_app(redis_url)
    yield app
    app.close()


def test_six_moves_never_exceed_two_outbound_slots(
    worker: CeleryWorker, client_app: Celery, redis_client: redis.Redis
) -> None:
    dests = ["b", "b", "c", "c", "d", "d"]
    results = [
        client_app.send_task(
            "balancer.migrate",
            args=[
                encode(
                    MigrationOrder(
                        vm=f"vm{i}",
                        source="a",
                        dest=d,
                        mode="live",
                        memory_mib=200,
                        slots=Slots(outbound_per_host=2),
                    )
                )
            ],
        )
        for i, d in enumerate(dests)
    ]
    outcomes = [r.get(timeout=RESULT_TIMEOUT_S) for r in results]
    for r in results:
        r.forget()

    assert [o["result"] for o in outcomes] == ["completed"] * 6
    spans = sorted((o["started_at"], o["finished_at"]) for o in outcomes)
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running, most = 0, 0
    for _t, delta in points:
        running += delta
        most = max(most, running)
    assert most == 2, spans  # never more than 2 at once, and the 2 slots were used
    recorded = RedisRecorder(redis_client).outcomes()
    assert len(recorded) == 6
    coord = Coordinator(redis_client)
    assert all(not coord.slot_holders(k) for k in coord.slot_keys("a", "b"))
    assert all(Fence(redis_client).holder(KEYS.lease(f"vm{i}")) is None for i in range(6))


def test_a_move_that_no_longer_fits_fails_permanently(
    worker: CeleryWorker, client_app: Celery, redis_client: redis.Redis
) -> None:
    order = MigrationOrder(vm="ghost", source="a", dest="b", mode="live", memory_mib=200)
    result = client_app.send_task("balancer.migrate", args=[encode(order)])
    with pytest.raises(Exception, match="neither") as failed:
        result.get(timeout=RESULT_TIMEOUT_S)
    result.forget()
    assert type(failed.value).__name__ == "PreflightError"
    assert Fence(redis_client).holder(KEYS.lease("ghost")) is None


def test_redelivered_move_converges_without_a_second_migration(
    worker: CeleryWorker, client_app: Celery, redis_client: redis.Redis
) -> None:
    order = encode(MigrationOrder(vm="vm0", source="a", dest="b", mode="live", memory_mib=200))
    first = client_app.send_task("balancer.migrate", args=[order], task_id="same-id")
    assert first.get(timeout=RESULT_TIMEOUT_S)["result"] == "completed"
    first.forget()  # the same task id again: a redelivery of the finished task
    again = client_app.send_task("balancer.migrate", args=[order], task_id="same-id")
    out = again.get(timeout=RESULT_TIMEOUT_S)
    again.forget()
    assert out["result"] == "completed"
    assert [s["step"] for s in out["steps"]] == ["converged"]
    stored = msgspec.json.decode(redis_client.get("kvmb:exec:outcome:vm0") or b"{}")
    assert [s["step"] for s in stored["steps"]] == ["converged"]
    assert [o.id for o in RedisRecorder(redis_client).outcomes()] == ["same-id", "same-id"]
