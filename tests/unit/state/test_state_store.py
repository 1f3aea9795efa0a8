"""The store's Redis-shaped logic against fakeredis (real-server behaviour is in
tests/integration)."""

from __future__ import annotations

from typing import Any

import fakeredis
import msgspec
import pytest
import redis

from balancer.core.models import AntiAffinityRule, Policy
from balancer.errors import InputError, PermanentError, RetryableError, SnapshotError
from balancer.state.history import vm_history
from balancer.state.keys import Keys
from balancer.state.operator import (
    delete_rule,
    forget_host,
    put_rule,
    put_rules,
    record_migration,
    set_host_state,
    set_policy,
    set_vm_labels,
)
from balancer.state.overrides import STALE
from balancer.state.publish import ensure_schema, publish_report
from balancer.state.report import encode_report
from balancer.state.snapshot_read import read_raw, snapshot_from_redis
from tests.unit.state.factories import report

KEYS = Keys("t")


def test_publish_is_one_transaction_and_counts_generations(client: fakeredis.FakeRedis) -> None:
    assert publish_report(client, KEYS, report("a", ("v1",))).generation == 1
    assert publish_report(client, KEYS, report("b", ("v2", "v3"))).generation == 2
    snap = snapshot_from_redis(client, keys=KEYS, now=42.0)
    assert snap.generation == 2
    assert snap.taken_at == 42.0
    assert [h.name for h in snap.hosts] == ["a", "b"]
    assert sorted(v.name for v in snap.vms) == ["v1", "v2", "v3"]


def test_heartbeat_has_the_report_ttl(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ttl_s=2.5))
    assert 2000 < client.pttl(KEYS.alive("a")) <= 2500
    assert client.ttl(KEYS.report("a")) == -1  # the report outlives the heartbeat


def test_expired_heartbeat_reads_as_failed_stale(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    publish_report(client, KEYS, report("b"))
    client.delete(KEYS.alive("a"))  # what expiry does
    hosts = {h.name: h for h in snapshot_from_redis(client, keys=KEYS).hosts}
    assert hosts["a"].state == "failed"
    assert hosts["a"].state_reason == STALE
    assert hosts["b"].state == "active"


def test_history_is_bounded_per_host(client: fakeredis.FakeRedis) -> None:
    for i in range(6):
        publish_report(client, KEYS, report("a", ("v1", "v2"), at=1000.0 + i), history_len=4)
    assert client.xlen(KEYS.history("a")) == 4
    points = vm_history(client, "a", "v2", keys=KEYS)
    assert [p.collected_at for p in points] == [1002.0, 1003.0, 1004.0, 1005.0]
    assert all(p.sample.name == "v2" and p.sample.rss_mib == 100 for p in points)


def test_schema_marker(client: fakeredis.FakeRedis) -> None:
    ensure_schema(client, KEYS)
    ensure_schema(client, KEYS)  # idempotent
    assert client.get(KEYS.schema) == b"1"
    client.set(KEYS.schema, "2")
    with pytest.raises(PermanentError, match="schema"):
        ensure_schema(client, KEYS)
    with pytest.raises(SnapshotError, match="schema 2"):
        snapshot_from_redis(client, keys=KEYS)


def test_operator_facts_reach_the_snapshot(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ("v1", "v2")))
    publish_report(client, KEYS, report("b", ("v3",)))
    set_host_state(client, "b", "maintenance", reason="firmware", keys=KEYS, now=5.0)
    put_rule(client, "r1", AntiAffinityRule(vms=("v1", "v2")), keys=KEYS)
    set_policy(client, Policy(objective="evacuate", headroom=0.2), keys=KEYS)
    set_vm_labels(client, "v3", {"owner": "ops"}, keys=KEYS)
    record_migration(client, "v1", 99.5, keys=KEYS)
    snap = snapshot_from_redis(client, keys=KEYS, now=100.0)
    hosts = {h.name: h for h in snap.hosts}
    assert hosts["b"].state == "maintenance"
    assert hosts["b"].state_reason == "firmware"
    assert snap.rules == (AntiAffinityRule(vms=("v1", "v2")),)
    assert snap.policy.objective == "evacuate"
    assert snap.policy.headroom == 0.2
    vms = {v.name: v for v in snap.vms}
    assert vms["v3"].labels == {"owner": "ops"}
    assert vms["v1"].last_migrated_at == 99.5
    # and back
    set_host_state(client, "b", "active", keys=KEYS)
    assert delete_rule(client, "r1", keys=KEYS)
    set_policy(client, None, keys=KEYS)
    set_vm_labels(client, "v3", {}, keys=KEYS)
    snap = snapshot_from_redis(client, keys=KEYS)
    assert {h.state for h in snap.hosts} == {"active"}
    assert snap.rules == ()
    assert snap.policy == Policy()
    assert {v.name: v.labels for v in snap.vms}["v3"] == {}


def test_bad_override_state_is_refused(client: fakeredis.FakeRedis) -> None:
    with pytest.raises(InputError, match="cannot set a host 'rebooting'"):
        set_host_state(client, "a", "rebooting", keys=KEYS)


def test_a_rule_of_one_vm_is_refused_and_nothing_is_stored(client: fakeredis.FakeRedis) -> None:
    one = AntiAffinityRule(vms=("v1", "v1"))  # one VM named twice
    with pytest.raises(InputError, match="at least two VMs") as err:
        put_rule(client, "r1", one, keys=KEYS)
    assert err.value.path == "r1.vms"
    with pytest.raises(InputError, match="at least two VMs"):
        put_rules(client, {"ok": AntiAffinityRule(vms=("v1", "v2")), "r1": one}, keys=KEYS)
    assert client.hgetall(KEYS.rules) == {}


def test_a_corrupt_operator_fact_is_skipped_and_logged(
    client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    publish_report(client, KEYS, report("a", ("v1", "v2")))
    client.hset(KEYS.rules, "bad", b'{"type": "affinity"}')
    client.hset(KEYS.rules, "ok", b'{"type": "anti-affinity", "vms": ["v1", "v2"]}')
    client.hset(KEYS.host_state, "a", b"not json")
    client.hset(KEYS.vm_labels, "v1", b"[1]")
    client.zadd(KEYS.vm_migrated, {"v2": 5.0})
    client.set(KEYS.policy, b'{"headroom": "lots"}')
    snap = snapshot_from_redis(client, keys=KEYS, now=10.0)
    assert snap.rules == (AntiAffinityRule(vms=("v1", "v2")),)
    assert snap.hosts[0].state == "active"
    assert snap.policy.headroom == 0.1  # the defaults hold
    assert {v.name: v.last_migrated_at for v in snap.vms} == {"v1": None, "v2": 5.0}
    for where in ("op:rules[bad]", "op:host-state[a]", "op:vm-labels[v1]", "op:policy"):
        assert f"redis:{where}" in caplog.text


@pytest.mark.parametrize(
    "key",
    [KEYS.rules, KEYS.host_state, KEYS.vm_labels, KEYS.vm_migrated, KEYS.power,
     KEYS.generation, KEYS.policy, KEYS.schema],
)  # fmt: skip
def test_a_key_of_the_wrong_type_is_read_as_empty_and_logged(
    client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture, key: str
) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    client.delete(key)
    if key in (KEYS.generation, KEYS.policy, KEYS.schema):
        client.hset(key, "x", "y")  # a hash where a string belongs
    else:
        client.set(key, "x")  # a string where a hash or sorted set belongs
    snap = snapshot_from_redis(client, keys=KEYS)
    assert [v.name for v in snap.vms] == ["v1"]
    assert f"{key} holds a " in caplog.text


def test_a_host_set_of_the_wrong_type_reads_no_host(
    client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    client.delete(KEYS.hosts)
    client.set(KEYS.hosts, "x")
    assert snapshot_from_redis(client, keys=KEYS).hosts == ()
    assert "no host can be read" in caplog.text


def test_undecodable_or_misfiled_report_is_left_out(
    client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    publish_report(client, KEYS, report("b", ("v2",)))
    publish_report(client, KEYS, report("c", ("v3",)))
    client.set(KEYS.report("b"), b"\xc1 not msgpack")
    client.set(KEYS.report("c"), encode_report(report("someone-else")))
    snap = snapshot_from_redis(client, keys=KEYS)
    assert [h.name for h in snap.hosts] == ["a"]
    assert "host b: undecodable report" in caplog.text
    assert "host c: report of schema 1 for host 'someone-else'" in caplog.text


def test_forget_host(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    publish_report(client, KEYS, report("b"))
    set_host_state(client, "a", "maintenance", keys=KEYS)
    forget_host(client, "a", keys=KEYS)
    assert [h.name for h in snapshot_from_redis(client, keys=KEYS).hosts] == ["b"]
    assert not client.exists(KEYS.report("a"), KEYS.alive("a"), KEYS.history("a"))
    assert not client.hexists(KEYS.host_state, "a")


class _RacingClient:
    """Registers a new host right after the reader listed the hosts, ``times`` times."""

    def __init__(self, client: fakeredis.FakeRedis, other: fakeredis.FakeRedis, times: int) -> None:
        self._client = client
        self._other = other
        self.times = times

    def pipeline(self, transaction: bool = True) -> Any:
        pipe = self._client.pipeline(transaction=transaction)
        racing = self
        original = pipe.smembers

        def smembers(key: str) -> Any:
            result = original(key)
            if racing.times > 0:
                racing.times -= 1
                publish_report(racing._other, KEYS, report(f"late-{racing.times}"))
            return result

        pipe.smembers = smembers  # type: ignore[method-assign,assignment]
        return pipe


def test_host_registering_mid_read_retries_for_one_generation(
    server: fakeredis.FakeServer, client: fakeredis.FakeRedis
) -> None:
    publish_report(client, KEYS, report("a"))
    other = fakeredis.FakeRedis(server=server)
    racing = _RacingClient(client, other, times=2)
    raw = read_raw(racing, KEYS)  # type: ignore[arg-type]
    other.close()
    assert racing.times == 0
    assert set(raw.names) == {"a", "late-0", "late-1"}
    assert raw.generation == 3  # the snapshot saw every registration it lists


def test_reader_gives_up_when_hosts_never_stop_registering(
    server: fakeredis.FakeServer, client: fakeredis.FakeRedis
) -> None:
    other = fakeredis.FakeRedis(server=server)
    racing = _RacingClient(client, other, times=100)
    with pytest.raises(RetryableError):
        read_raw(racing, KEYS)  # type: ignore[arg-type]
    other.close()


def test_redis_errors_propagate_as_redis_errors(server: fakeredis.FakeServer,
                                                client: fakeredis.FakeRedis) -> None:  # fmt: skip
    server.connected = False
    with pytest.raises(redis.ConnectionError):
        snapshot_from_redis(client, keys=KEYS)


def test_override_json_is_readable(client: fakeredis.FakeRedis) -> None:
    set_host_state(client, "a", "draining", reason="rebalance", keys=KEYS, now=7.0)
    stored = msgspec.json.decode(client.hget(KEYS.host_state, "a") or b"")
    assert stored == {"state": "draining", "reason": "rebalance", "set_at": 7.0}
