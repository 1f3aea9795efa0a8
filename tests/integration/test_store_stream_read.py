"""The snapshot read's streamed transaction against a real redis-server: the same store
as redis-py's pipeline reads, over RESP2 and RESP3; a watched key changed, a command
refused (ACL) or failing at run time, a dropped connection: each reported as redis-py
would, and the connection either still usable or closed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis

from balancer.state import raw_store
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.operator import set_host_state, set_vm_labels
from balancer.state.publish import ensure_schema, publish_report
from balancer.state.raw_store import read_raw
from balancer.state.report import decode_report_head
from balancer.state.snapshot_read import snapshot_from_redis
from balancer.state.stream_read import exec_streaming, supports_streaming
from tests.fixtures.redis_server import RedisServer
from tests.unit.state.factories import report

pytestmark = pytest.mark.redis
#: A user that may run transactions of GET and nothing else (no MGET).
GET_ONLY = ("--user", "default", "off", "--user", "r", "on", ">pw", "~*", "-@all",
            "+@connection", "+multi", "+exec", "+get")  # fmt: skip


def _fill(client: redis.Redis, hosts: int = 30) -> None:
    ensure_schema(client, KEYS)
    for i in range(hosts):
        vms = tuple(f"h{i:02d}-vm{j}" for j in range(5))
        publish_report(client, KEYS, report(f"h{i:02d}", vms, at=time.time(), ttl_s=600))
    client.delete(KEYS.alive("h03"))  # one stale host
    set_host_state(client, "h01", "maintenance", reason="disk")
    set_vm_labels(client, "h02-vm0", {"tier": "db"})


@pytest.mark.parametrize("protocol", [2, 3])
def test_streamed_read_equals_the_pipeline_read(
    redis_url: str, protocol: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_url, protocol=protocol)
    _fill(client)
    streamed = read_raw(client, KEYS)
    with monkeypatch.context() as mp:  # the same server through redis-py's own pipeline
        mp.setattr(raw_store, "supports_streaming", lambda conn: False)
        piped = read_raw(client, KEYS)
    assert streamed == piped
    assert len(streamed.names) == 30
    assert streamed.overrides
    assert streamed.vm_labels
    snap = snapshot_from_redis(client, keys=KEYS)
    hosts = {h.name: h for h in snap.hosts}
    assert (hosts["h03"].state, hosts["h03"].state_reason) == ("failed", "stale")
    assert hosts["h01"].state == "maintenance"
    assert {v.name: v for v in snap.vms}["h02-vm0"].labels["tier"] == "db"
    assert len(snap.vms) == 150
    client.close()


def _connection(client: redis.Redis) -> Iterator[redis.connection.Connection]:
    conn = client.connection_pool.get_connection()
    try:
        yield conn
    finally:
        client.connection_pool.release(conn)


@pytest.fixture
def conn(redis_client: redis.Redis) -> Iterator[redis.connection.Connection]:
    yield from _connection(redis_client)


def _still_usable(conn: redis.connection.Connection) -> None:
    conn.send_command("PING")  # type: ignore[no-untyped-call]
    assert conn.read_response() in (b"PONG", "PONG", True)


def test_items_are_handed_over_as_they_arrive(
    redis_client: redis.Redis, conn: redis.connection.Connection
) -> None:
    _fill(redis_client, hosts=3)
    assert supports_streaming(conn)
    seen: list[str] = []

    def on_item(blob: bytes | None) -> object:
        seen.append("?" if blob is None else decode_report_head(blob).host.name)
        return len(seen)

    keys = [KEYS.report(n) for n in ("h00", "nobody", "h02")]
    result = exec_streaming(conn, [("GET", KEYS.schema), ("MGET", *keys)], 1, on_item)
    assert result == [b"1", [1, 2, 3]]
    assert seen == ["h00", "?", "h02"]
    _still_usable(conn)


def test_a_changed_watched_key_aborts(
    redis_client: redis.Redis, conn: redis.connection.Connection
) -> None:
    conn.send_command("WATCH", KEYS.hosts)  # type: ignore[no-untyped-call]
    assert conn.read_response() in (b"OK", "OK", True)
    redis_client.sadd(KEYS.hosts, "newcomer")
    with pytest.raises(redis.WatchError):
        exec_streaming(conn, [("SMEMBERS", KEYS.hosts)], 0, lambda b: b)
    _still_usable(conn)


def test_a_runtime_error_is_raised_after_the_whole_reply(
    redis_client: redis.Redis, conn: redis.connection.Connection
) -> None:
    redis_client.set(KEYS.rules, "not a hash")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        exec_streaming(conn, [("HGETALL", KEYS.rules), ("GET", KEYS.rules)], 9, lambda b: b)
    _still_usable(conn)


def test_a_command_the_acl_refuses(redis_server_factory: Callable[..., RedisServer]) -> None:
    server = redis_server_factory(extra=GET_ONLY)
    client = redis.Redis.from_url(server.url_for("r", "pw"))
    for conn in _connection(client):
        with pytest.raises(redis.ResponseError, match="NOPERM"):
            exec_streaming(conn, [("GET", "a"), ("MGET", "a", "b")], 1, lambda b: b)
        _still_usable(conn)
    client.close()


def test_a_dropped_connection_is_closed(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    client = server.client()
    for conn in _connection(client):
        server.kill()
        with pytest.raises(redis.ConnectionError):
            exec_streaming(conn, [("GET", "a")], 0, lambda b: b)
        assert conn._sock is None  # closed, not handed back half-read
    client.close()
