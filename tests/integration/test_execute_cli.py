"""``balancer execute`` and ``workers.dispatch.send_plan``: a plan made by ``balancer plan``
is queued on a real redis-server as orders only — never the snapshot — each wave a group
whose tasks are named by their migration ids, at their reasons' priorities."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from balancer.core.plan import Plan
from balancer.snapshot_file import load_snapshot
from tests.integration.test_migrate_cli import queued
from workers.celery_app import make_app, move_priority

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


def messages(client: redis.Redis) -> list[dict[str, Any]]:
    """The queued messages, their bodies decoded (kombu's Redis transport: base64)."""
    out = []
    for raw in (m for ms in queued(client).values() for m in ms):
        message = json.loads(raw)
        assert message["properties"]["body_encoding"] == "base64"
        message["body"] = base64.b64decode(message["body"])
        out.append(message)
    return out


def orders_in(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The task's own order (protocol 2 body: [args, kwargs, embed])."""
    args, _kwargs, _embed = json.loads(message["body"])
    return [a for a in args if isinstance(a, dict)]


def test_execute_queues_the_first_wave_as_orders(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    plan_path = make_plan(tmp_path)
    plan = msgspec.json.decode(plan_path.read_bytes(), type=Plan)
    r = balancer("execute", "--plan", str(plan_path), "--snapshot", str(EXAMPLE),
                 "--redis", redis_url)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip()) == 36  # the workflow's id
    assert f"{len(plan.moves)} move(s), {len(plan.power)} power action(s)" in r.stderr
    first = min([m.wave for m in plan.moves] + [p.wave for p in plan.power])
    sent = messages(redis_client)
    tasks = sorted(m["headers"]["task"] for m in sent)
    want = ["balancer.migrate"] * sum(m.wave == first for m in plan.moves)
    want += [f"balancer.power_{p.action}" for p in plan.power if p.wave == first]
    assert tasks == sorted(want)
    for message in sent:
        assert message["content-type"] == "application/json"
        if message["headers"]["task"] == "balancer.migrate":
            [order] = orders_in(message)
            assert message["headers"]["id"] == order["id"]  # task id = migration id
            assert order["plan_id"].startswith("cli-")
            assert order.get("epoch") is None  # an operator's plan: not fenced by a leader


def test_execute_refuses_a_bad_plan_file(tmp_path: Path, redis_url: str) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    r = balancer("execute", "--plan", str(bad), "--snapshot", str(EXAMPLE), "--redis", redis_url)
    assert r.returncode == 2
    assert "--plan" in r.stderr
    gone = balancer("execute", "--plan", str(bad), "--snapshot", str(EXAMPLE), "--power", "x")
    assert gone.returncode == 2  # the option is gone: drivers live on the workers
    assert "--power" in gone.stderr


def test_send_plan_carries_no_snapshot_and_names_every_task(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    from workers.dispatch import send_plan  # noqa: PLC0415 - after the app's settings

    plan = msgspec.json.decode(make_plan(tmp_path).read_bytes(), type=Plan)
    snapshot = load_snapshot(EXAMPLE)
    app = make_app(redis_url)
    try:
        sent = send_plan(app, plan, snapshot, epoch=7, plan_id="p-7")
    finally:
        app.close()
    assert sent.migrations.keys() == {m.vm for m in plan.moves}
    assert sent.power.keys() == {p.host for p in plan.power}
    assert sent.waves == len({m.wave for m in plan.moves} | {p.wave for p in plan.power})
    sent_messages = messages(redis_client)
    raw = [m["body"] for m in sent_messages]
    everything = b"".join(raw)
    # No snapshot: no host facts, no VM facts beyond the orders', no other VM.
    assert b"cpu_used" not in everything
    assert b"hosts" not in everything
    moved = {m.vm for m in plan.moves}
    assert not [vm.name for vm in snapshot.vms if vm.name not in moved
                and f'"{vm.name}"'.encode() in everything]  # fmt: skip
    snapshot_size = len(msgspec.json.encode(snapshot))
    assert max(len(m) for m in raw) < snapshot_size
    for message in sent_messages:
        task = message["headers"]["task"]
        for order in orders_in(message):
            assert order["epoch"] == 7
            assert order["plan_id"] == "p-7"
            if task == "balancer.migrate":
                assert message["headers"]["id"] == sent.migrations[order["vm"]]
                reason = next(m.reason for m in plan.moves if m.vm == order["vm"])
                assert message["properties"]["priority"] == move_priority(reason)
            else:
                assert message["headers"]["id"] == sent.power[order["host"]]
                assert set(order) == {"id", "plan_id", "epoch", "host", "action", "reason"}
