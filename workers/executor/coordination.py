"""Per-host and per-cluster migration slots in Redis, all expiring (the per-VM lease is
the fence's: ``fence.py``).

    kvmb:exec:slots:out:<host>    ZSET token → expiry (s)   outbound migrations of a host
    kvmb:exec:slots:in:<host>     ZSET token → expiry (s)   inbound migrations of a host
    kvmb:exec:slots:cluster       ZSET token → expiry (s)   migrations in the cluster

A worker pushes the expiry of what it holds on every watch poll (``Fence.renew``, in the
lease's script); a worker that dies stops and its slots expire after ``ttl_s``. Expiry
times come from Redis' own clock (``TIME``), so workers on different hosts agree. The
token is the Celery task id: a redelivered task finds its own slots and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from balancer.core.models import Slots
from balancer.errors import BusyError
from balancer.state.exec_stats import record_slot_wait
from balancer.state.keys import DEFAULT_KEYS, LEASE_TTL_S, Keys
from workers.executor.redis_edge import redis_edge


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Coordinator:
    client: redis.Redis
    keys: Keys = DEFAULT_KEYS
    ttl_s: float = LEASE_TTL_S

    def slot_keys(self, source: str, dest: str) -> tuple[str, str, str]:
        k = self.keys
        return k.slots_out(source), k.slots_in(dest), k.slots_cluster

    def _now(self) -> float:
        seconds, micros = self.client.time()
        return float(seconds) + float(micros) / 1e6

    def acquire_slots(self, source: str, dest: str, token: str, limits: Slots) -> None:
        """Hold an outbound, an inbound and a cluster slot, all or none (BusyError)."""
        keys = self.slot_keys(source, dest)
        caps = (limits.outbound_per_host, limits.inbound_per_host, limits.cluster)
        with redis_edge(f"take migration slots {source}->{dest}"):
            for _attempt in range(20):
                with self.client.pipeline() as pipe:
                    try:
                        pipe.watch(*keys)  # type: ignore[no-untyped-call]
                        now = self._now()
                        for key, cap in zip(keys, caps, strict=True):
                            live = pipe.zrangebyscore(key, now, "+inf")
                            holders = {_text(m) for m in live} - {token}
                            if len(holders) >= cap:
                                raise BusyError(f"no free slot in {key} ({len(holders)}/{cap})")
                        pipe.multi()
                        for key in keys:
                            pipe.zremrangebyscore(key, "-inf", now)
                            pipe.zadd(key, {token: now + self.ttl_s})
                        pipe.execute()
                        return
                    except redis.WatchError:
                        continue
        raise BusyError(f"slots for {source}->{dest}: too much contention")

    def count_wait(self, seconds: float, *, got: bool) -> None:
        """Count a move's wait for its slots (``kvmb:exec:stats``; never raises)."""
        record_slot_wait(self.client, self.keys, seconds, got=got)

    def release_slots(self, source: str, dest: str, token: str) -> None:
        with (
            redis_edge(f"release migration slots {source}->{dest}"),
            self.client.pipeline(transaction=True) as pipe,
        ):
            for key in self.slot_keys(source, dest):
                pipe.zrem(key, token)
            pipe.execute()

    def slot_holders(self, key: str) -> set[str]:
        with redis_edge(f"read {key}"):
            return {_text(m) for m in self.client.zrangebyscore(key, self._now(), "+inf")}
