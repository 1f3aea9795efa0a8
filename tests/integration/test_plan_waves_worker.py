"""``workers.dispatch.send_plan`` on a real worker (real redis-server, simulated hypervisor
in real time): a plan of two waves runs wave 2 only after every move of wave 1 has ended
(from the recorded start/end times), the moves of one wave side by side; a move of wave 1
that fails stops wave 2 and fails the workflow; a cancelled plan's moves are refused and
recorded ``cancelled``, never failed (docs/executor.md, "Waves")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
from celery import Celery
from celery.result import AsyncResult

from balancer.core.models import Snapshot
from balancer.core.plan import Move, MoveEstimate, MoveReason, Plan, Spread, Summary
from balancer.snapshot_file import load_snapshot
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.migrations import MigrationRecord, plan_results
from tests.fixtures.redis_server import RedisServer
from tests.integration.sim_worker import outcomes, sim_calls, sim_worker, wait_until
from workers.celery_app import make_app
from workers.dispatch import cancel_plan_moves, send_plan
from workers.executor.fence import Fence

pytestmark = pytest.mark.redis
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "cluster-small.json"
RESULT_TIMEOUT_S = 120
HOSTS = ("kvm-01", "kvm-02", "kvm-03", "kvm-05")


def snapshot_with(vms: dict[str, str]) -> Snapshot:
    """The example cluster's active hosts, holding copies of one of its VMs: {vm: host}."""
    example = load_snapshot(EXAMPLE)
    template = next(vm for vm in example.vms if vm.name == "ci-runner")
    return msgspec.structs.replace(
        example,
        hosts=tuple(h for h in example.hosts if h.name in HOSTS),
        vms=tuple(
            msgspec.structs.replace(template, name=name, host=host, memory_mib=1024)
            for name, host in vms.items()
        ),
        rules=(),
    )


def ended(record: MigrationRecord) -> float:
    assert record.finished_at is not None, record
    return record.finished_at


def plan_of(moves: list[tuple[str, str, str, int]]) -> Plan:
    """A plan of live moves (vm, from, to, wave)."""
    est = MoveEstimate(duration_s=1.0, downtime_ms=10.0, bytes=1)
    spread = Spread(cpu=0.0, memory=0.0)
    return Plan(
        generation=1, taken_at=0.0, power=(), unmovable=(),
        moves=tuple(Move(vm=v, source=s, to=t, mode="live", wave=w,
                         reason=MoveReason.BALANCE, estimate=est)
                    for v, s, t, w in moves),
        summary=Summary(objective="balance", active_hosts_before=4, active_hosts_after=4,
                        spread_before=spread, spread_after=spread, migrations=len(moves),
                        waves=max(w for *_, w in moves), total_bytes=0, total_duration_s=0.0,
                        max_downtime_ms=0.0, overloaded_hosts_before=0, overloaded_hosts_after=0),
    )  # fmt: skip


@pytest.fixture
def client_app(redis_server: RedisServer, redis_url: str) -> Iterator[Celery]:
    app = make_app(redis_url)
    yield app
    app.close()


def start_worker(tmp_path: Path, redis_url: str, sim: dict[str, Any]) -> Any:
    worker = sim_worker(tmp_path, redis_url, {h: sim.get(h, {}) for h in HOSTS}, concurrency=4)
    worker.start()
    return worker


def execute(app: Celery, plan: Plan, snapshot: Snapshot, plan_id: str = "p1") -> AsyncResult:
    """What ``balancer execute`` sends; the workflow's result."""
    sent = send_plan(app, plan, snapshot, epoch=None, plan_id=plan_id)
    return AsyncResult(sent.workflow_id, app=app)


def test_wave_two_starts_after_every_move_of_wave_one(
    tmp_path: Path, redis_url: str, client_app: Celery, redis_client: redis.Redis
) -> None:
    where = {"w1-big": "kvm-01", "w1-small": "kvm-02", "w2-a": "kvm-01", "w2-b": "kvm-03"}
    sim = {
        "kvm-01": {"w1-big": {"memory_mib": 400}, "w2-a": {"memory_mib": 100}},
        "kvm-02": {"w1-small": {"memory_mib": 100}},
        "kvm-03": {"w2-b": {"memory_mib": 100}},
    }
    plan = plan_of([("w1-big", "kvm-01", "kvm-05", 1), ("w1-small", "kvm-02", "kvm-03", 1),
                    ("w2-a", "kvm-01", "kvm-02", 2), ("w2-b", "kvm-03", "kvm-05", 2)])  # fmt: skip
    worker = start_worker(tmp_path, redis_url, sim)
    try:
        workflow = execute(client_app, plan, snapshot_with(where))
        assert workflow.get(timeout=RESULT_TIMEOUT_S) == {"plan_id": "p1", "wave": 2, "waves": 2}
        workflow.forget()
    finally:
        worker.stop()

    done = {o.vm: o for o in outcomes(redis_client)}
    assert {vm: o.result for vm, o in done.items()} == dict.fromkeys(where, "completed")
    assert plan_results(redis_client, KEYS, "p1") == {o.id: "completed" for o in done.values()}
    wave1 = [done["w1-big"], done["w1-small"]]
    wave2 = [done["w2-a"], done["w2-b"]]
    assert min(o.started_at for o in wave2) >= max(ended(o) for o in wave1), done
    # The moves of a wave run side by side: the small one ends while the big one runs.
    assert ended(done["w1-small"]) < ended(done["w1-big"])
    assert done["w1-big"].started_at < ended(done["w1-small"])


def test_a_failed_move_of_wave_one_stops_wave_two(
    tmp_path: Path, redis_url: str, client_app: Celery, redis_client: redis.Redis
) -> None:
    where = {"w1-ok": "kvm-01", "w1-bad": "kvm-02", "w2": "kvm-03"}
    sim = {
        "kvm-01": {"w1-ok": {"memory_mib": 300}},
        # kvm-05 refuses this guest's CPU: the move fails its preflight (permanently).
        "kvm-02": {"w1-bad": {"memory_mib": 100, "cpu_ok_on": ["kvm-03"]}},
        "kvm-03": {"w2": {"memory_mib": 100}},
    }
    plan = plan_of([("w1-ok", "kvm-01", "kvm-02", 1), ("w1-bad", "kvm-02", "kvm-05", 1),
                    ("w2", "kvm-03", "kvm-01", 2)])  # fmt: skip
    worker = start_worker(tmp_path, redis_url, sim)
    try:
        workflow = execute(client_app, plan, snapshot_with(where))
        with pytest.raises(Exception, match="w1-bad") as failed:
            workflow.get(timeout=RESULT_TIMEOUT_S)
        # Wave 1 has ended (its failure resolved the workflow); give a stray wave 2 time.
        wait_until("wave 1's outcomes", lambda: len(outcomes(redis_client)) >= 2)
        redis_client.set("probe", "1", ex=5)
        wait_until("a few seconds", lambda: not redis_client.exists("probe"), timeout_s=10)
    finally:
        worker.stop()

    assert type(failed.value).__name__ == "ChordError"
    done = {o.vm: o.result for o in outcomes(redis_client)}
    assert done == {"w1-ok": "completed", "w1-bad": "failed"}
    assert Fence(redis_client).holder(KEYS.lease("w2")) is None


def test_a_cancelled_plan_is_refused_and_recorded_cancelled(
    tmp_path: Path, redis_url: str, client_app: Celery, redis_client: redis.Redis
) -> None:
    """Cancelled before a worker takes it: every move is refused by the fence (nothing
    starts: the sim's call log stays empty), recorded ``cancelled``, and the waves still
    close (a refusal is not a failure)."""
    where = {"c1": "kvm-01", "c2": "kvm-02"}
    sim = {"kvm-01": {"c1": {"memory_mib": 100}}, "kvm-02": {"c2": {"memory_mib": 100}}}
    plan = plan_of([("c1", "kvm-01", "kvm-03", 1), ("c2", "kvm-02", "kvm-03", 2)])
    cancel_plan_moves(redis_client, KEYS, ["p-cancel"])  # the whole plan, before it runs
    worker = start_worker(tmp_path, redis_url, sim)
    try:
        workflow = execute(client_app, plan, snapshot_with(where), plan_id="p-cancel")
        assert workflow.get(timeout=RESULT_TIMEOUT_S)["wave"] == 2
        workflow.forget()
    finally:
        worker.stop()
    assert [(o.vm, o.result) for o in outcomes(redis_client)] == [
        ("c1", "cancelled"), ("c2", "cancelled")]  # fmt: skip
    assert set(plan_results(redis_client, KEYS, "p-cancel").values()) == {"cancelled"}
    assert sim_calls(tmp_path) == []
