"""``balancer execute``: a plan made by ``balancer plan`` is enqueued on the migration
queue of a real redis-server; the workflow it becomes has one group per wave."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import redis

from balancer.core.plan import Plan
from balancer.snapshot_file import load_snapshot
from workers.celery_app import PRIORITY
from workers.tasks import plan_waves, plan_workflow

pytestmark = pytest.mark.redis
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "cluster-small.json"


def balancer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "balancer.cli.main", *args],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def make_plan(tmp_path: Path) -> Path:
    r = balancer("plan", "--snapshot", str(EXAMPLE), "--objective", "consolidate",
                 "--format", "json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    path = tmp_path / "plan.json"
    path.write_text(r.stdout)
    return path


def test_execute_enqueues_the_plan(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    plan_path = make_plan(tmp_path)
    drivers = tmp_path / "power.json"
    drivers.write_text(json.dumps({"kvm-01": {"kind": "ssh", "target": "root@kvm-01"}}))
    r = balancer("execute", "--plan", str(plan_path), "--snapshot", str(EXAMPLE),
                 "--power", str(drivers), "--redis", redis_url)  # fmt: skip
    assert r.returncode == 0, r.stderr
    task_id = r.stdout.strip()
    queued = [k for k in redis_client.keys("migrations*") if redis_client.type(k) == b"list"]
    assert len(queued) == 1, queued
    [raw] = redis_client.lrange(queued[0], 0, -1)
    message = json.loads(raw)
    assert message["headers"]["task"] == "balancer.execute_plan"
    assert message["headers"]["id"] == task_id
    assert message["content-type"] == "application/json"


def test_execute_refuses_a_bad_plan_file(tmp_path: Path, redis_url: str) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    r = balancer("execute", "--plan", str(bad), "--snapshot", str(EXAMPLE), "--redis", redis_url)
    assert r.returncode == 2
    assert "--plan" in r.stderr


def test_plan_becomes_one_group_per_wave(tmp_path: Path) -> None:
    plan = msgspec.json.decode(make_plan(tmp_path).read_bytes(), type=Plan)
    snapshot = load_snapshot(EXAMPLE)
    drivers = {a.host: {"kind": "ssh", "target": f"root@{a.host}"} for a in plan.power}
    waves = plan_waves(plan, snapshot, drivers, PRIORITY["energy"])
    assert len(waves) == len({m.wave for m in plan.moves} | {p.wave for p in plan.power})
    for wave, number in zip(
        waves, sorted({m.wave for m in plan.moves} | {p.wave for p in plan.power}), strict=True
    ):
        vms = {t.args[0]["vm"] for t in wave if t.task == "balancer.migrate"}
        assert vms == {m.vm for m in plan.moves if m.wave == number}
    names = [t.task for wave in waves for t in wave]
    assert names.count("balancer.migrate") == len(plan.moves)
    assert names.count("balancer.power_off") == sum(a.action == "off" for a in plan.power)
    prios = {t.options.get("priority") for w in waves for t in w if t.task == "balancer.migrate"}
    assert prios == {PRIORITY["energy"]}
    assert plan_workflow(plan, snapshot, drivers, PRIORITY["energy"]) is not None
