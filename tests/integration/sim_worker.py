"""A real Celery worker (tests/integration/celery_worker.py) whose executor drives the
simulated hypervisor in real time (``BALANCER_HYPERVISOR=sim``), and helpers to wait for
what it records in Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis

from tests.integration.celery_worker import CeleryWorker
from workers.executor.records import MigrationRecord, RedisRecorder


def sim_worker(
    directory: Path,
    redis_url: str,
    hosts: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    concurrency: int = 1,
    bandwidth_mib_s: float = 100.0,
) -> CeleryWorker:
    """A worker (not started) whose simulated hosts hold ``hosts`` {host: {vm: SimVm}};
    its hypervisor's actions go to ``directory/sim-calls.jsonl`` (``sim_calls``)."""
    directory.mkdir(parents=True, exist_ok=True)
    sim = directory / "sim.json"
    sim.write_text(json.dumps({"bandwidth_mib_s": bandwidth_mib_s, "hosts": hosts}))
    env = {
        "BALANCER_REDIS_URL": redis_url,
        "BALANCER_HYPERVISOR": "sim",
        "BALANCER_SIM_FILE": str(sim),
        "BALANCER_SIM_LOG": str(directory / "sim-calls.jsonl"),
        "BALANCER_SLOT_WAIT_S": "60",
        "BALANCER_VISIBILITY_TIMEOUT_S": "3600",
    }
    return CeleryWorker(directory / "worker", env, concurrency=concurrency)


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def sim_calls(directory: Path) -> list[tuple[str, str]]:
    """What the worker's simulated hypervisor was asked to do: (action, VM), in order."""
    log = directory / "sim-calls.jsonl"
    if not log.exists():
        return []
    return [(a, vm) for a, vm in map(json.loads, log.read_text().splitlines())]


def outcomes(client: redis.Redis) -> list[MigrationRecord]:
    """Every outcome recorded so far, in the order the executor recorded them."""
    return RedisRecorder(client).outcomes()
