"""Writing a host report: one MULTI/EXEC transaction, so one round trip, and readers see
the report, its heartbeat, the history entry and the generation change together."""

from __future__ import annotations

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
    pipe = client.pipeline(transaction=True)
    pipe.sadd(keys.hosts, name)
    pipe.set(keys.report(name), encode_report(report))
    pipe.set(keys.alive(name), repr(report.collected_at), px=ttl_ms)
    if history_len > 0:
        pipe.xadd(
            keys.history(name),
            {"t": repr(report.collected_at), "vms": encode_samples(history_samples(report))},
            maxlen=history_len,
            approximate=False,
        )
    pipe.incr(keys.generation)
    results = pipe.execute()
    return int(results[-1])
