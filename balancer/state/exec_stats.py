"""The executor's waits and retries as counters in the store, for the exporter:

    kvmb:exec:stats   HASH field → number (HINCRBY / HINCRBYFLOAT)

    slot_wait:le:<bound>   moves whose slots came after waiting at most <bound> seconds
                           (and more than the bound before it); ``le:+Inf`` the rest
    slot_wait:sum          seconds waited for slots, all moves together
    slot_wait:timeout      moves that got no slot within the wait (their task retries)
    lease_busy             fence checks refused because another task held the VM's lease
    retry:<task>:<kind>    task retries: ``busy`` (a lease or slot held), ``unavailable``
                           (Redis or a host away)

Every worker adds to the same counters, whatever its pool (processes or threads) and
host, so nothing is lost when one restarts; the exporter turns them into Prometheus
counters and a histogram. A failed write is logged and dropped: counting must never fail
a migration.
"""

from __future__ import annotations

import bisect
import logging
import math

import redis

from balancer.state.keys import Keys

log = logging.getLogger(__name__)

#: Upper bounds (seconds) of the slot-wait histogram's buckets.
SLOT_WAIT_BUCKETS: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
#: Task retry kinds.
RETRY_KINDS = ("busy", "unavailable")


def bucket_field(seconds: float, bounds: tuple[float, ...] = SLOT_WAIT_BUCKETS) -> str:
    """The field of the bucket ``seconds`` falls in (non-cumulative)."""
    i = bisect.bisect_left(bounds, seconds)
    return f"slot_wait:le:{_bound(bounds[i]) if i < len(bounds) else '+Inf'}"


def _bound(value: float) -> str:
    return repr(float(value))


def record_slot_wait(client: redis.Redis, keys: Keys, seconds: float, *, got: bool) -> None:
    """A move waited ``seconds`` for its slots and got them (``got``) or gave up."""
    seconds = max(0.0, seconds) if math.isfinite(seconds) else 0.0
    try:
        with client.pipeline(transaction=False) as pipe:
            if got:
                pipe.hincrby(keys.exec_stats, bucket_field(seconds), 1)
            else:
                pipe.hincrby(keys.exec_stats, "slot_wait:timeout", 1)
            pipe.hincrbyfloat(keys.exec_stats, "slot_wait:sum", seconds)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("slot wait not counted: %s", exc)


def record_count(client: redis.Redis, keys: Keys, field: str) -> None:
    """Add one to ``field`` (``lease_busy``, ``retry:<task>:<kind>``)."""
    try:
        client.hincrby(keys.exec_stats, field, 1)
    except redis.RedisError as exc:
        log.warning("%s not counted: %s", field, exc)


def read_exec_stats(client: redis.Redis, keys: Keys) -> dict[str, float]:
    raw: dict[bytes, bytes] = client.hgetall(keys.exec_stats)  # type: ignore[assignment]
    out: dict[str, float] = {}
    for k, v in raw.items():
        try:
            out[k.decode()] = float(v)
        except ValueError:
            log.warning("%s[%r] holds %r, not a number", keys.exec_stats, k, v)
    return out


def slot_wait_buckets(stats: dict[str, float]) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs of the slot-wait histogram, ``+Inf`` last."""
    out: list[tuple[str, float]] = []
    total = 0.0
    for bound in SLOT_WAIT_BUCKETS:
        total += stats.get(f"slot_wait:le:{_bound(bound)}", 0.0)
        out.append((_bound(bound), total))
    total += stats.get("slot_wait:le:+Inf", 0.0)
    out.append(("+Inf", total))
    return out
