"""A real Celery worker is SIGKILLed in the middle of a real migration, then restarted:
the task is delivered again and converges; the VM ends on exactly one host, running,
with no duplicate definition and no leaked lease or slot."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import redis
from celery import Celery

from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory
from balancer.state.keys import DEFAULT_KEYS as KEYS
from tests.integration.celery_worker import CeleryWorker
from workers.celery_app import make_app
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.order import MigrationOrder, encode
from workers.executor.records import Progress

pytestmark = pytest.mark.lab
VISIBILITY_S = 15


@pytest.fixture
def client_app(redis_url: str) -> Iterator[Celery]:
    app = make_app(redis_url, visibility_timeout_s=VISIBILITY_S)
    yield app
    app.close()


def wait_for(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_migration_then_restart_converges(
    lab: Lab,
    lab_guests: GuestFactory,
    redis_url: str,
    redis_client: redis.Redis,
    client_app: Celery,
    tmp_path: Path,
) -> None:
    uris = {h: lab.host(h).uri for h in ("lab-a", "lab-b")}
    env = {
        "BALANCER_REDIS_URL": redis_url,
        "BALANCER_HYPERVISOR": "libvirt",
        "BALANCER_LIBVIRT_URIS": json.dumps(uris),
        "BALANCER_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S),
    }
    worker = CeleryWorker(tmp_path / "worker", env, concurrency=1)
    guest = lab_guests.add("lab-a", memory_mib=160, dirty_rate_mib_s=2, working_set_mib=32)
    order = MigrationOrder(vm=guest.name, source="lab-a", dest="lab-b", mode="live",
                           memory_mib=160, bandwidth_mib_s=8)  # fmt: skip
    progress_key = f"kvmb:exec:progress:{guest.name}"
    try:
        worker.start()
        result = client_app.send_task("balancer.migrate", args=[encode(order)])

        def underway() -> bool:
            raw = redis_client.get(progress_key)
            return raw is not None and msgspec.json.decode(raw, type=Progress).percent > 10

        wait_for("the migration to be under way", underway, timeout=120)
        worker.kill()
        worker.start()
        out = result.get(timeout=300)
        result.forget()
    finally:
        worker.stop()

    assert out["result"] == "completed", out
    found = {h: [d.name() for d in lab.conn(h).listAllDomains(0)] for h in uris}
    assert guest.name not in found["lab-a"], found  # no duplicate definition
    dom = lab.conn("lab-b").lookupByName(guest.name)
    assert dom.isActive()
    assert dom.isPersistent()
    at = guest.counter()
    assert guest.wait_for_counter(above=at + 4, timeout=60).counter > at
    coord = Coordinator(redis_client)
    assert Fence(redis_client).holder(KEYS.lease(guest.name)) is None
    assert all(not coord.slot_holders(k) for k in coord.slot_keys("lab-a", "lab-b"))
