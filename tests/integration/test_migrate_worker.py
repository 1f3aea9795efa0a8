"""``balancer migrate … --wait`` end to end: the example cluster in a real redis-server,
a real Celery worker whose executor drives the simulated hypervisor in real time. The
move is planned, queued, run, followed (its progress read from Redis) and reported; a
move the worker fails exits 1 with the executor's reason; ``--inline`` runs it here."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from balancer.snapshot_file import load_snapshot
from tests.integration.celery_worker import CeleryWorker
from tests.integration.sim_worker import outcomes, sim_worker
from tests.integration.store_seed import seed_store
from tests.integration.test_migrate_cli import EXAMPLE, balancer, queued

pytestmark = pytest.mark.redis
HOSTS = ("kvm-01", "kvm-02", "kvm-03", "kvm-04", "kvm-05", "kvm-06")
SIM: dict[str, dict[str, dict[str, Any]]] = {
    "kvm-02": {
        "ci-runner": {"memory_mib": 300},
        # Only kvm-01 accepts this guest's CPU: a move elsewhere fails the preflight.
        "cache-1": {"memory_mib": 100, "cpu_ok_on": ["kvm-01"]},
    },
}


@pytest.fixture
def store(redis_url: str, redis_client: redis.Redis) -> str:
    seed_store(redis_client, load_snapshot(EXAMPLE))
    return redis_url


@pytest.fixture
def worker(tmp_path: Path, store: str) -> Iterator[CeleryWorker]:
    w = sim_worker(tmp_path, store, {h: SIM.get(h, {}) for h in HOSTS}, concurrency=2)
    w.start()
    yield w
    w.stop()


def test_migrate_wait_moves_a_vm_end_to_end(
    worker: CeleryWorker, store: str, redis_client: redis.Redis
) -> None:
    r = balancer("migrate", "ci-runner", "--to", "kvm-03", "--wait", "--redis", store)
    assert r.returncode == 0, (r.stdout, r.stderr)
    task_id, result_line = r.stdout.strip().splitlines()
    assert len(task_id) == 36
    assert result_line.startswith("ci-runner kvm-02→kvm-03: completed (live) in ")
    assert "ci-runner kvm-02→kvm-03" in r.stderr  # the progress bar, from Redis
    [outcome] = outcomes(redis_client)
    assert (outcome.vm, outcome.dest, outcome.result) == ("ci-runner", "kvm-03", "completed")
    assert outcome.predicted is not None  # the planner's estimate went with the move
    assert queued(redis_client) == {}


def test_migrate_wait_exits_1_when_the_worker_fails_the_move(
    worker: CeleryWorker, store: str, redis_client: redis.Redis
) -> None:
    r = balancer("migrate", "cache-1", "--to", "kvm-03", "--wait", "--redis", store)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert len(r.stdout.strip()) == 36  # the task id, then no outcome line
    assert (
        "error: migration of cache-1 failed: PreflightError: cache-1 cannot move to kvm-03: "
        "kvm-03 cannot run the CPU" in r.stderr
    )
    assert [(o.vm, o.result) for o in outcomes(redis_client)] == [("cache-1", "failed")]


def test_migrate_inline_runs_the_move_in_the_cli(
    tmp_path: Path, store: str, redis_client: redis.Redis
) -> None:
    sim = tmp_path / "sim.json"
    sim.write_text(
        json.dumps({"bandwidth_mib_s": 100, "hosts": {h: SIM.get(h, {}) for h in HOSTS}})
    )
    env = {**os.environ, "BALANCER_HYPERVISOR": "sim", "BALANCER_SIM_FILE": str(sim)}
    r = balancer("migrate", "ci-runner", "--to", "kvm-03", "--inline", "--redis", store, env=env)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("ci-runner kvm-02→kvm-03: completed (live) in ")
    assert queued(redis_client) == {}  # nothing went through the broker
    raw = redis_client.get("kvmb:exec:outcome:ci-runner")
    assert raw is not None
    assert msgspec.json.decode(raw)["result"] == "completed"
    bad = balancer("migrate", "cache-1", "--to", "kvm-03", "--inline", "--redis", store, env=env)
    assert bad.returncode == 1
    assert "error: cache-1 cannot move to kvm-03: kvm-03 cannot run the CPU" in bad.stderr
