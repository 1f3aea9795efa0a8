"""The operator commands (`balancer host|vm|rules|policy`) as processes against a real
redis-server: what they write shows in `balancer hosts` and in exported snapshots, and a
bad value or an unknown name exits 2 with a message and writes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from balancer.core.models import AntiAffinityRule, PinRule
from balancer.snapshot_file import load_snapshot
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.publish import ensure_schema, publish_report
from tests.integration.agent_processes import balancer
from tests.unit.state.factories import report

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_client: redis.Redis) -> redis.Redis:
    ensure_schema(redis_client, KEYS)
    now = time.time()
    publish_report(redis_client, KEYS, report("kvm-01", ("a1", "a2"), at=now, ttl_s=600))
    publish_report(redis_client, KEYS, report("kvm-02", ("b1",), at=now, ttl_s=600))
    return redis_client


def _dump(client: redis.Redis) -> dict[bytes, object]:
    """Every operator key's content: to show that a refused command wrote nothing."""
    return {
        KEYS.host_state.encode(): client.hgetall(KEYS.host_state),
        KEYS.rules.encode(): client.hgetall(KEYS.rules),
        KEYS.vm_labels.encode(): client.hgetall(KEYS.vm_labels),
        KEYS.policy.encode(): client.get(KEYS.policy),
    }


def _export(tmp_path: Path, url: str) -> object:
    out = tmp_path / "snap.json"
    result = balancer("snapshot", "export", "--redis", url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return load_snapshot(out)


def test_host_state_shows_in_listing_and_snapshot(
    tmp_path: Path, redis_url: str, store: redis.Redis
) -> None:
    result = balancer("host", "set-state", "kvm-01", "maintenance", "--reason", "BIOS update",
                      "--redis", redis_url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "kvm-01: maintenance (BIOS update)" in result.stdout

    listing = balancer("hosts", "--redis", redis_url, "--json")
    rows = {r["name"]: r for r in json.loads(listing.stdout)}
    assert (rows["kvm-01"]["state"], rows["kvm-01"]["reason"]) == ("maintenance", "BIOS update")
    assert rows["kvm-02"]["state"] == "active"
    table = balancer("hosts", "--redis", redis_url).stdout
    assert "BIOS update" in next(line for line in table.splitlines() if line.startswith("kvm-01"))

    snap = _export(tmp_path, redis_url)
    hosts = {h.name: h for h in snap.hosts}  # type: ignore[attr-defined]
    assert (hosts["kvm-01"].state, hosts["kvm-01"].state_reason) == ("maintenance", "BIOS update")

    cleared = balancer("host", "clear-state", "kvm-01", "--redis", redis_url)
    assert cleared.returncode == 0, cleared.stderr
    assert "override maintenance removed" in cleared.stdout
    assert store.hgetall(KEYS.host_state) == {}
    rows = {r["name"]: r for r in json.loads(balancer("hosts", "--redis", redis_url,
                                                      "--json").stdout)}  # fmt: skip
    assert (rows["kvm-01"]["state"], rows["kvm-01"]["reason"]) == ("active", "")


def test_refused_values_exit_2_and_write_nothing(
    tmp_path: Path, redis_url: str, store: redis.Redis
) -> None:
    before = _dump(store)
    bad_rule = tmp_path / "bad-rule.json"
    bad_rule.write_text('{"r1": {"type": "anti-affinity", "vms": ["a1"]}}')
    unknown_vm_rule = tmp_path / "ghost.json"
    unknown_vm_rule.write_text('{"r1": {"type": "pin", "vm": "ghost", "hosts": ["kvm-01"]}}')
    bad_policy = tmp_path / "policy.json"
    bad_policy.write_text('{"objective": "fastest"}')
    cases = {
        ("host", "set-state", "nowhere", "maintenance"): "unknown host 'nowhere'",
        ("host", "set-state", "kvm-01", "asleep"): "Invalid value",
        ("vm", "label", "ghost", "tier=db"): "unknown VM 'ghost'",
        ("vm", "label", "a1", "no-equals-sign"): "expected KEY=VALUE",
        ("rules", "put", str(bad_rule)): "at least two VMs",
        ("rules", "put", str(unknown_vm_rule)): "unknown VM 'ghost'",
        ("rules", "put", str(tmp_path / "missing.json")): "cannot read",
        ("rules", "delete", "no-such-rule"): "no rule 'no-such-rule'",
        ("policy", "set", str(bad_policy)): "objective: Invalid enum value",
    }
    for args, message in cases.items():
        result = balancer(*args, "--redis", redis_url)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert _dump(store) == before


def test_labels_rules_and_policy_reach_the_snapshot(
    tmp_path: Path, redis_url: str, store: redis.Redis
) -> None:
    assert balancer("vm", "label", "a1", "tier=db", "critical=yes",
                    "--redis", redis_url).returncode == 0  # fmt: skip
    result = balancer("vm", "unlabel", "a1", "critical", "--redis", redis_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(store.hget(KEYS.vm_labels, "a1")) == {"tier": "db"}  # type: ignore[arg-type]

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({
        "apart": {"type": "anti-affinity", "vms": ["a1", "a2"]},
        "b1-home": {"type": "pin", "vm": "b1", "hosts": ["kvm-02"]},
    }))  # fmt: skip
    result = balancer("rules", "put", str(rules), "--redis", redis_url)
    assert result.returncode == 0, result.stderr
    shown = json.loads(balancer("rules", "show", "--redis", redis_url).stdout)
    assert set(shown) == {"apart", "b1-home"}

    policy = tmp_path / "policy.json"
    policy.write_text('{"objective": "consolidate", "headroom": 0.25}')
    assert balancer("policy", "set", str(policy), "--redis", redis_url).returncode == 0

    snap = _export(tmp_path, redis_url)
    vms = {v.name: v for v in snap.vms}  # type: ignore[attr-defined]
    assert vms["a1"].labels["tier"] == "db"
    assert "critical" not in vms["a1"].labels
    assert set(snap.rules) == {  # type: ignore[attr-defined]
        AntiAffinityRule(vms=("a1", "a2")),
        PinRule(vm="b1", hosts=("kvm-02",)),
    }
    assert (snap.policy.objective, snap.policy.headroom) == ("consolidate", 0.25)  # type: ignore[attr-defined]

    replace = tmp_path / "only.json"
    replace.write_text('{"b1-home": {"type": "pin", "vm": "b1", "hosts": ["kvm-02"]}}')
    assert balancer("rules", "put", str(replace), "--replace", "--redis", redis_url).returncode == 0
    assert set(store.hkeys(KEYS.rules)) == {b"b1-home"}
    assert balancer("rules", "delete", "b1-home", "--redis", redis_url).returncode == 0
    assert balancer("policy", "clear", "--redis", redis_url).returncode == 0
    assert balancer("vm", "unlabel", "a1", "--all", "--redis", redis_url).returncode == 0
    assert _dump(store) == {
        KEYS.host_state.encode(): {},
        KEYS.rules.encode(): {},
        KEYS.vm_labels.encode(): {},
        KEYS.policy.encode(): None,
    }
