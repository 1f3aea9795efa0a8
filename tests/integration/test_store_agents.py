"""Agents (real processes on test:/// hosts) and a real redis-server: publish, export,
plan on the export, a killed agent's host turning stale, the listings."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from balancer.core.models import AntiAffinityRule, Snapshot
from balancer.core.planner import plan
from balancer.snapshot_file import load_snapshot
from balancer.state.operator import put_rule, set_host_state
from balancer.state.overrides import STALE
from balancer.state.snapshot_read import snapshot_from_redis
from tests.integration.agent_processes import (
    AgentFactory,
    AgentProcess,
    balancer,
    wait_for,
    write_node,
)

pytestmark = pytest.mark.redis

HOSTS = {"kvm-01": ("a1", "a2"), "kvm-02": ("b1", "b2"), "kvm-03": ("c1",)}
#: kvm-03's agent is the one killed: a short heartbeat; the others' stay long, so that a
#: slow CI machine never makes a live host look stale.
TTL_S = {"kvm-01": 30.0, "kvm-02": 30.0, "kvm-03": 2.0}


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def _states(snap: Snapshot) -> dict[str, str]:
    return {h.name: h.state for h in snap.hosts}


def _start_cluster(
    tmp_path: Path, redis_url: str, agent_processes: AgentFactory
) -> dict[str, AgentProcess]:
    agents = {}
    for host, vms in HOSTS.items():
        uri = write_node(tmp_path, host, vms)
        agents[host] = agent_processes(
            "--libvirt-uri", uri, "--redis", redis_url, "--host-name", host,
            "--interval", "0.3", "--ttl", str(TTL_S[host]),
        )  # fmt: skip
    return agents


def test_agents_publish_export_and_plan(
    tmp_path: Path, redis_url: str, client: redis.Redis, agent_processes: AgentFactory
) -> None:
    _start_cluster(tmp_path, redis_url, agent_processes)
    wait_for(
        lambda: _states(snapshot_from_redis(client)) == dict.fromkeys(HOSTS, "active"),
        what="three active hosts",
    )
    first = snapshot_from_redis(client)
    assert sorted(v.name for v in first.vms) == ["a1", "a2", "b1", "b2", "c1"]
    assert {v.name: v.host for v in first.vms}["b2"] == "kvm-02"
    wait_for(lambda: snapshot_from_redis(client).generation >= first.generation + 6,
             what="agents to keep publishing")  # fmt: skip

    set_host_state(client, "kvm-02", "draining", reason="integration test")
    put_rule(client, "spread-a", AntiAffinityRule(vms=("a1", "a2"), hard=False))
    out = tmp_path / "export.json"
    result = balancer("snapshot", "export", "--redis", redis_url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr

    doc = load_snapshot(out)  # decodes and validates the v1 document
    assert _states(doc) == {"kvm-01": "active", "kvm-02": "draining", "kvm-03": "active"}
    assert {h.name: h.state_reason for h in doc.hosts}["kvm-02"] == ("integration test")
    assert doc.rules == (AntiAffinityRule(vms=("a1", "a2"), hard=False),)

    result = balancer("plan", "--snapshot", str(out), "--format", "json")
    assert result.returncode in (0, 3), result.stderr
    planned = json.loads(result.stdout)
    assert planned["generation"] == doc.generation
    # A draining host's VMs must leave; test:/// hosts offer no QEMU machine types, so
    # each is reported unmovable with the reason, and nothing moves onto kvm-02.
    leaving = {u["vm"]: u["reason"] for u in planned["unmovable"]}
    assert set(leaving) >= {"b1", "b2"}
    assert all(m["to"] != "kvm-02" for m in planned["moves"])
    same = plan(doc)
    assert {u.vm for u in same.unmovable} == set(leaving)


def test_killed_agents_host_turns_stale_after_its_ttl(
    tmp_path: Path, redis_url: str, client: redis.Redis, agent_processes: AgentFactory
) -> None:
    agents = _start_cluster(tmp_path, redis_url, agent_processes)
    wait_for(
        lambda: _states(snapshot_from_redis(client)) == dict.fromkeys(HOSTS, "active"),
        what="three active hosts",
    )
    victim = agents["kvm-03"]
    victim.kill()
    killed_at = time.monotonic()
    wait_for(lambda: _states(snapshot_from_redis(client))["kvm-03"] == "failed", timeout=60,
             what="kvm-03 to turn stale")  # fmt: skip
    took = time.monotonic() - killed_at
    assert took <= TTL_S["kvm-03"] + 10  # the heartbeat expired: by its TTL (plus slack)

    snap = snapshot_from_redis(client)
    hosts = {h.name: h for h in snap.hosts}
    assert hosts["kvm-03"].state_reason == STALE
    assert hosts["kvm-01"].state == hosts["kvm-02"].state == "active"
    assert {v.name: v.host for v in snap.vms}["c1"] == "kvm-03"  # last known facts stay

    listing = balancer("hosts", "--redis", redis_url)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith("kvm-03"))
    assert "failed" in row
    assert "stale" in row
    assert "STALE" in row
    vms = json.loads(balancer("vms", "--redis", redis_url, "--json").stdout)
    assert {v["name"]: v["stale"] for v in vms} == {
        "a1": False, "a2": False, "b1": False, "b2": False, "c1": True,
    }  # fmt: skip
    only = json.loads(balancer("vms", "--redis", redis_url, "--json", "--host", "kvm-01").stdout)
    assert [v["name"] for v in only] == ["a1", "a2"]


def test_agent_once_is_a_scriptable_check(tmp_path: Path, redis_url: str) -> None:
    uri = write_node(tmp_path, "kvm-09", ("z1",))
    ok = balancer("agent", "--libvirt-uri", uri, "--redis", redis_url, "--host-name", "kvm-09",
                  "--once")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "published kvm-09: 1 VMs" in ok.stdout
    refused = balancer("agent", "--libvirt-uri", "qemu:///session", "--redis", redis_url, "--once")
    assert refused.returncode == 2
    assert "session" in refused.stderr
    down = balancer("agent", "--libvirt-uri", uri, "--redis", "redis://127.0.0.1:1/0", "--once")
    assert down.returncode == 1
    assert "error: publishing to redis://127.0.0.1:1/0" in down.stderr
    assert "Traceback" not in down.stderr
