"""Real Celery workers started like ``balancer worker --hypervisor sim`` migrate the
fleet's VMs: the fleet's next reports show the move; a VM that does not converge
finishes through the ladder; racing tasks and workers, and a worker SIGKILLed
mid-migration, leave every VM on exactly one host."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from celery import Celery

from balancer.fleet.facts import POOL
from balancer.fleet.invariant import placement_problems
from balancer.fleet.store import FleetStore
from tests.integration.fleet_processes import (
    Fleet,
    FleetWorker,
    Process,
    processes,
    wait_until,
)
from workers.celery_app import make_app
from workers.executor.order import MigrationOrder, encode
from workers.executor.records import Progress

__all__ = ["processes"]
pytestmark = pytest.mark.redis
RESULT_TIMEOUT_S = 120
VISIBILITY_S = 8


@pytest.fixture
def app(redis_url: str) -> Iterator[Celery]:
    a = make_app(redis_url)
    yield a
    a.close()


def order(store: FleetStore, vm: str, dest: str, **kw: Any) -> dict[str, Any]:
    facts, source = store.vm(vm), store.where(vm)
    assert facts is not None
    assert source is not None
    move = MigrationOrder(vm=vm, source=source, dest=dest, mode="live",
                          memory_mib=facts.memory_mib, shared_pools=(POOL,), **kw)  # fmt: skip
    return encode(move)


def reported_on(fleet: Fleet, vm: str) -> set[str]:
    """The hosts whose latest report lists ``vm``."""
    return {
        h
        for h in (f"host-{i}" for i in range(4))
        if (r := fleet.report(h)) is not None and any(v.name == vm for v in r.vms)
    }


def test_a_worker_migrates_a_vm_and_the_fleet_reports_it_moved(
    redis_url: str, tmp_path: Path, processes: list[Process], app: Celery
) -> None:
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "4", "--vms", "12",
                  "--speed", "20", "--interval", "10")  # fmt: skip
    processes.append(fleet)
    processes.append(FleetWorker(tmp_path, redis_url, "w1"))
    store = FleetStore(fleet.client, fleet.keys)
    vm = "vm-00"
    source = store.where(vm)
    dest = next(f"host-{i}" for i in range(4) if f"host-{i}" != source)
    assert reported_on(fleet, vm) == {source}
    outcome = app.send_task("balancer.migrate", args=[order(store, vm, dest)]).get(
        timeout=RESULT_TIMEOUT_S
    )
    assert outcome["result"] == "completed"
    assert store.where(vm) == dest
    fleet_now = fleet.clock.now()
    assert outcome["started_at"] < outcome["finished_at"] <= fleet_now + 1  # fleet time
    wait_until("the fleet to report the move", lambda: reported_on(fleet, vm) == {dest})
    report = fleet.report(dest)
    assert report is not None
    # Collected after the move began: the fleet reports its placement, which changes when
    # the VM lands, a moment (of fleet time, 20 times real) before the executor has
    # verified the move and stamped finished_at.
    assert report.collected_at > outcome["started_at"]
    assert placement_problems(store) == []


def test_a_non_converging_vm_finishes_through_the_ladder(
    redis_url: str, tmp_path: Path, processes: list[Process], app: Celery
) -> None:
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "4", "--vms", "12",
                  "--hot-vms", "12", "--speed", "20")  # fmt: skip
    processes.append(fleet)
    processes.append(FleetWorker(tmp_path, redis_url, "w1"))
    store = FleetStore(fleet.client, fleet.keys)
    vm = "vm-05"
    dest = next(f"host-{i}" for i in range(4) if f"host-{i}" != store.where(vm))
    outcome = app.send_task("balancer.migrate", args=[order(store, vm, dest)]).get(
        timeout=RESULT_TIMEOUT_S
    )
    assert outcome["result"] == "completed"
    assert outcome["finished_by"] == "suspend"
    steps = [s["step"] for s in outcome["steps"]]
    assert steps.count("downtime") == 2
    assert steps.index("downtime") < steps.index("suspend") < steps.index("resume")
    dom_state = store.vm_view(vm)[1]
    assert dom_state == "running"  # resumed on the destination
    assert store.where(vm) == dest


def test_racing_tasks_on_two_workers_move_a_vm_once(
    redis_url: str, tmp_path: Path, processes: list[Process], app: Celery
) -> None:
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "4", "--vms", "12",
                  "--speed", "10")  # fmt: skip
    processes.append(fleet)
    processes += [FleetWorker(tmp_path, redis_url, f"w{i}") for i in (1, 2)]
    store = FleetStore(fleet.client, fleet.keys)
    vm = "vm-03"
    source = store.where(vm)
    dests = [f"host-{i}" for i in range(4) if f"host-{i}" != source][:2]
    results = [app.send_task("balancer.migrate", args=[order(store, vm, d)]) for d in dests]
    outcomes = []
    for r in results:
        try:
            outcomes.append(r.get(timeout=RESULT_TIMEOUT_S)["result"])
        except Exception as exc:  # the loser fails: its VM is on neither of its hosts
            outcomes.append(type(exc).__name__)
    assert outcomes.count("completed") == 1, outcomes
    assert store.where(vm) == dests[outcomes.index("completed")]
    assert [m for m in store.moves_since("0-0")[0] if m[0] == vm] == [(vm, source, store.where(vm))]
    assert placement_problems(store) == []


def test_a_worker_killed_mid_migration_leaves_the_vm_on_one_host(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "4", "--vms", "12",
                  "--speed", "5", "--bandwidth", "10", "--dirty-per-core", "4")  # fmt: skip
    processes.append(fleet)
    env = {"BALANCER_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S)}
    first = FleetWorker(tmp_path, redis_url, "first", env=env)
    processes.append(first)
    store = FleetStore(fleet.client, fleet.keys)
    vm = "vm-00"
    source = store.where(vm)
    dest = next(f"host-{i}" for i in range(4) if f"host-{i}" != source)
    app = make_app(redis_url, visibility_timeout_s=VISIBILITY_S)
    try:
        result = app.send_task("balancer.migrate", args=[order(store, vm, dest)])
        sent = time.monotonic()

        def underway() -> bool:
            raw = fleet.client.get(fleet.keys.progress(vm))
            return raw is not None and msgspec.json.decode(raw, type=Progress).percent > 5

        wait_until("the migration to be under way", underway)
        first.kill()
        assert store.run(vm) is not None  # the migration goes on without its worker
        # A starting worker restores the messages unacknowledged for longer than the
        # visibility timeout (later, kombu sweeps only every ~100 s).
        time.sleep(max(0.0, sent + VISIBILITY_S + 0.5 - time.monotonic()))
        processes.append(FleetWorker(tmp_path, redis_url, "second", env=env))
        outcome = result.get(timeout=RESULT_TIMEOUT_S)
    finally:
        app.close()
    assert outcome["result"] == "completed"
    steps = [s["step"] for s in outcome["steps"]]
    assert "adopt" in steps or "converged" in steps  # watched to the end, or found landed
    assert store.where(vm) == dest
    assert store.run(vm) is None
    assert [m for m in store.moves_since("0-0")[0] if m[0] == vm] == [(vm, source, dest)]
    assert placement_problems(store) == []
