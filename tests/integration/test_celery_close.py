"""Our app's ``close()`` closes every connection it opened to the store (broker,
producers, result backend, its pub/sub): ``Celery.close`` alone leaves them to the
garbage collector."""

from __future__ import annotations

import json

import psutil
import pytest

from tests.fixtures.redis_server import RedisFactory
from workers.celery_app import make_app

pytestmark = pytest.mark.redis


def connections_to(port: int) -> int:
    """This process's open TCP connections to ``port``."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def test_closing_the_app_leaves_no_connection_to_the_store(
    redis_server_factory: RedisFactory,
) -> None:
    server = redis_server_factory()  # its own server: only this app connects to it
    app = make_app(server.url)
    app.send_task("balancer.wave_done", args=["plan-1", 1, 1, "wf-1"])  # broker, producer
    meta = {"status": "SUCCESS", "result": {"ok": True}, "task_id": "task-1"}
    app.backend.client.set(app.backend.get_key_for_task("task-1"), json.dumps(meta))  # backend
    assert app.AsyncResult("task-1").get(timeout=10) == {"ok": True}  # pub/sub
    assert connections_to(server.port) >= 2

    app.close()

    assert connections_to(server.port) == 0
    again = make_app(server.url)  # kombu shares the pools by URL: still usable
    try:
        again.send_task("balancer.wave_done", args=["plan-2", 1, 1, "wf-2"])
        with server.client() as client:
            assert client.llen("migrations:6") == 2  # balance priority (task_routes)
    finally:
        again.close()
