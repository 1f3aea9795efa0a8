"""Writing a host report: one MULTI/EXEC transaction, so one round trip, and readers see
the report, its heartbeat, the history entry and the generation change together."""

from __future__ import annotations

from typing import Any

import redis

from balancer.errors import PermanentError
from balancer.state.keys import SCHEMA_VERSION, Keys
from balancer.state.report import HostReport, encode_report, encode_samples, history_samples

#: History entries kept per host (each holds every VM's sample of one report).
DEFAULT_HISTORY_LEN = 12


def ensure_schema(client: redis.Redis, keys: Keys) -> None:
    """Mark an empty store with our schema version; refuse a store of another version."""
    previous = client.set(keys.schema, str(SCHEMA_VERSION), nx=True, get=True)
    if previous is not None and previous != str(SCHEMA_VERSION).encode():
        raise PermanentError(
            f"the Redis store uses state schema {previous!r}; this version writes "
            f"{SCHEMA_VERSION} (see docs/state-schema.md)"
        )


def publish_report(
    client: redis.Redis,
    keys: Keys,
    report: HostReport,
    *,
    history_len: int = DEFAULT_HISTORY_LEN,
) -> int:
    """Store ``report`` as the host's latest, renew its heartbeat; return the generation."""
    name = report.host.name
    ttl_ms = max(1, round(report.ttl_s * 1000))
    commands: list[tuple[object, ...]] = [
        ("SADD", keys.hosts, name),
        ("SET", keys.report(name), encode_report(report)),
        ("SET", keys.alive(name), repr(report.collected_at), "PX", ttl_ms),
    ]
    if history_len > 0:
        samples = encode_samples(history_samples(report))
        commands.append(
            ("XADD", keys.history(name), "MAXLEN", history_len, "*",
             "t", repr(report.collected_at), "vms", samples)
        )  # fmt: skip
    commands.append(("INCRBY", keys.generation, 1))
    return int(_transaction(client, commands)[-1])


def _transaction(client: redis.Redis, commands: list[tuple[object, ...]]) -> list[Any]:
    """MULTI, ``commands``, EXEC sent in one write (redis-py's pipeline writes each large
    value separately: three system calls instead of one, twice the agent's CPU), retried
    once on a dropped connection like the client's other commands."""
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        results: list[Any] = conn.retry.call_with_retry(
            lambda: _round_trip(conn, commands),
            lambda _error: conn.disconnect(),  # type: ignore[no-untyped-call]
        )
        return results
    finally:
        pool.release(conn)


def _round_trip(conn: Any, commands: list[tuple[object, ...]]) -> list[Any]:
    packed = conn.pack_commands([("MULTI",), *commands, ("EXEC",)])
    conn.send_packed_command([b"".join(packed)])
    try:
        for _ in range(len(commands) + 1):  # MULTI's OK, then each command's QUEUED
            conn.read_response()
        results: list[Any] = conn.read_response()
    except BaseException:
        conn.disconnect()  # a refused command: the replies after it are left unread
        raise
    for result in results:
        if isinstance(result, redis.ResponseError):
            raise result
    return results
