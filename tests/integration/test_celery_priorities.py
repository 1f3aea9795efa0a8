"""Priorities on the real Redis transport with a real worker (concurrency 1): tasks queued
while the worker is stopped, or busy with a long migration, run evacuation first, then
capacity power-on, then balance, then energy saving; first in, first out within one
priority. A task sent by name without a priority runs at the balance priority.

Redis has no native priorities: kombu keeps one list per priority step (``migrations``,
``migrations:1`` … ``migrations:9`` with ``sep=":"``) and BRPOPs them in that order, so a
lower number is served first. Prefetch 1 with ``acks_late`` keeps a busy worker from
taking the next message before its task ends (it would otherwise hold whichever message
came first, whatever its priority)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.result import AsyncResult

from tests.fixtures.redis_server import RedisServer
from tests.integration.celery_worker import CeleryWorker
from tests.integration.sim_worker import outcomes, sim_worker, wait_until
from workers.celery_app import PRIORITY, make_app
from workers.executor.order import LadderConfig, MigrationOrder, encode

pytestmark = pytest.mark.redis
RESULT_TIMEOUT_S = 120
FAST = LadderConfig(poll_s=0.2)
#: (VM, priority name or None: sent by name without one), in the order they are queued:
#: the least urgent first, so a worker taking messages early would run them first.
QUEUED = [
    ("energy-1", "energy"),
    ("energy-2", "energy"),
    ("unset-1", None),
    ("balance-1", "balance"),
    ("power-1", "power-on"),
    ("evacuate-1", "evacuate"),
    ("evacuate-2", "evacuate"),
]
EXPECTED = ["evacuate-1", "evacuate-2", "power-1", "unset-1", "balance-1", "energy-1", "energy-2"]


@pytest.fixture
def client_app(redis_server: RedisServer, redis_url: str) -> Iterator[Celery]:
    app = make_app(redis_url)
    yield app
    app.close()


@pytest.fixture
def worker(tmp_path: Path, redis_url: str) -> Iterator[CeleryWorker]:
    vms = {vm: {"memory_mib": 8} for vm, _ in QUEUED} | {"blocker": {"memory_mib": 500}}
    w = sim_worker(tmp_path, redis_url, {"a": vms, "b": {}}, concurrency=1)
    yield w
    w.stop()


def send(app: Celery, vm: str, memory_mib: int, priority: str | None) -> AsyncResult:
    order = MigrationOrder(vm=vm, source="a", dest="b", mode="live", memory_mib=memory_mib,
                           ladder=FAST)  # fmt: skip
    if priority is None:
        return app.send_task("balancer.migrate", args=[encode(order)])
    return app.send_task("balancer.migrate", args=[encode(order)], priority=PRIORITY[priority])


def run_order(results: list[AsyncResult], client: redis.Redis) -> list[str]:
    for r in results:
        assert r.get(timeout=RESULT_TIMEOUT_S)["result"] == "completed"
        r.forget()
    return [o.vm for o in outcomes(client)]


def test_queued_while_stopped_runs_by_priority(
    worker: CeleryWorker, client_app: Celery, redis_client: redis.Redis
) -> None:
    results = [send(client_app, vm, 8, prio) for vm, prio in QUEUED]
    worker.start()
    assert run_order(results, redis_client) == EXPECTED


def test_queued_while_busy_runs_by_priority(
    worker: CeleryWorker, client_app: Celery, redis_client: redis.Redis
) -> None:
    worker.start()
    blocker = send(client_app, "blocker", 500, "energy")
    wait_until(
        "the blocker to run", lambda: bool(redis_client.exists("kvmb:exec:progress:blocker"))
    )
    results = [send(client_app, vm, 8, prio) for vm, prio in QUEUED]
    assert run_order([blocker, *results], redis_client) == ["blocker", *EXPECTED]
