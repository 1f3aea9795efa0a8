"""The snapshot read's transaction and the agents' publish against a real redis-server,
through redis-py's pipeline: the same store over RESP2 and RESP3; a host registering
during the read retried into the same generation; a command refused (ACL) or a dropped
connection reported as redis-py's errors, the client still usable after a refusal."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis

from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.operator import set_host_state, set_vm_labels
from balancer.state.publish import ensure_schema, publish_report, publish_reports
from balancer.state.raw_store import read_raw
from balancer.state.report import decode_report_head
from balancer.state.snapshot_read import snapshot_from_redis
from tests.fixtures.redis_server import RedisServer
from tests.unit.state.factories import report

pytestmark = pytest.mark.redis
#: A user that may run the snapshot's transaction, but for MGET.
NO_MGET = ("--user", "default", "off", "--user", "r", "on", ">pw", "~*", "-@all",
           "+@connection", "+multi", "+exec", "+discard", "+watch", "+unwatch", "+get",
           "+smembers", "+hgetall", "+zrange")  # fmt: skip


def _fill(client: redis.Redis, hosts: int = 30) -> None:
    ensure_schema(client, KEYS)
    for i in range(hosts):
        vms = tuple(f"h{i:02d}-vm{j}" for j in range(5))
        publish_report(client, KEYS, report(f"h{i:02d}", vms, at=time.time(), ttl_s=600))
    client.delete(KEYS.alive("h03"))  # one stale host
    set_host_state(client, "h01", "maintenance", reason="disk")
    set_vm_labels(client, "h02-vm0", {"tier": "db"})


def test_the_read_is_the_same_over_resp2_and_resp3(redis_url: str) -> None:
    resp3 = redis.Redis.from_url(redis_url, protocol=3)
    resp2 = redis.Redis.from_url(redis_url, protocol=2)
    _fill(resp3)
    read3, read2 = read_raw(resp3, KEYS), read_raw(resp2, KEYS)
    assert read3 == read2
    assert len(read3.names) == 30
    assert read3.overrides
    assert read3.vm_labels
    for client in (resp2, resp3):
        snap = snapshot_from_redis(client, keys=KEYS)
        hosts = {h.name: h for h in snap.hosts}
        assert (hosts["h03"].state, hosts["h03"].state_reason) == ("failed", "stale")
        assert hosts["h01"].state == "maintenance"
        assert {v.name: v for v in snap.vms}["h02-vm0"].labels["tier"] == "db"
        assert len(snap.vms) == 150
        client.close()


def test_a_host_registering_during_the_read_is_read_in_the_retried_generation(
    redis_client: redis.Redis,
) -> None:
    _fill(redis_client, hosts=3)
    calls: list[bytes | None] = []

    def window(policy: bytes | None) -> float:
        """Called between the watched reads and MULTI: a host registers then, once."""
        if not calls:
            publish_report(redis_client, KEYS, report("late", ("late-vm",), ttl_s=600))
        calls.append(policy)
        return 0.0

    raw = read_raw(redis_client, KEYS, window)
    assert len(calls) == 2  # the first transaction aborted (WATCH), the second read it
    assert raw.names == ("h00", "h01", "h02", "late")
    assert raw.generation == int(redis_client.get(KEYS.generation) or 0)
    late = raw.reports[raw.names.index("late")]
    assert late is not None
    assert decode_report_head(late).host.name == "late"


def test_a_command_the_acl_refuses_is_raised_and_the_client_stays_usable(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory(extra=(*NO_MGET, "--user", "w", "on", ">pw", "~*", "+@all"))
    writer = redis.Redis.from_url(server.url_for("w", "pw"))
    _fill(writer, hosts=2)
    reader = redis.Redis.from_url(server.url_for("r", "pw"))
    with pytest.raises(redis.exceptions.NoPermissionError, match="mget"):
        read_raw(reader, KEYS)
    assert reader.get(KEYS.schema) == b"1"  # the connection was handed back in order
    assert read_raw(writer, KEYS).names == ("h00", "h01")
    reader.close()
    writer.close()


def test_a_dropped_connection_is_a_connection_error(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    client = server.client()
    _fill(client, hosts=2)
    server.kill()
    with pytest.raises(redis.ConnectionError):
        read_raw(client, KEYS)
    client.close()


def test_reports_published_together_are_one_transaction(redis_client: redis.Redis) -> None:
    ensure_schema(redis_client, KEYS)
    redis_client.hset(KEYS.vm_resident("b"), "b-vm", "512.0")
    published = publish_reports(
        redis_client, KEYS, [report("a", ("a-vm",), ttl_s=600), report("b", ("b-vm",), ttl_s=600)]
    )
    assert [p.generation for p in published] == [1, 2]
    assert [dict(p.resident_mib) for p in published] == [{}, {"b-vm": 512.0}]
    raw = read_raw(redis_client, KEYS)
    assert raw.names == ("a", "b")
    assert all(a is not None for a in raw.alive)
