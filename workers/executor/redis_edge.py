"""Redis errors at the executor's edge, as errors of the one tree: a dropped connection, a
timeout, a server still loading its data after a restart or a read-only replica after a
failover → ``RetryableError`` (the same call may succeed later); anything else (a wrong
type, a script error, an ACL refusal) → ``PermanentError`` saying what was being done.

    with redis_edge("renew the lease of vm1"):
        client.evalsha(...)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from balancer.errors import BalancerError, PermanentError, RetryableError

TRANSIENT: tuple[type[redis.RedisError], ...] = (
    redis.ConnectionError,  # also BusyLoadingError: a restarted server reading its data
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
)


def translate(exc: redis.RedisError, what: str) -> BalancerError:
    """``exc`` as one of ours, with ``what`` was being done."""
    if isinstance(exc, TRANSIENT):
        return RetryableError(f"Redis unavailable to {what}: {type(exc).__name__}: {exc}")
    return PermanentError(f"Redis refused to {what}: {type(exc).__name__}: {exc}")


@contextmanager
def redis_edge(what: str) -> Iterator[None]:
    """Re-raise a Redis error inside the block as ``translate(exc, what)``."""
    try:
        yield
    except redis.RedisError as exc:
        raise translate(exc, what) from exc
