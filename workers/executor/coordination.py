"""Per-VM leases and per-host/cluster migration slots in Redis, all expiring.

    kvmb:exec:lease:<vm>          STRING token, PX ttl      one migration per VM at a time
    kvmb:exec:slots:out:<host>    ZSET token → expiry (s)   outbound migrations of a host
    kvmb:exec:slots:in:<host>     ZSET token → expiry (s)   inbound migrations of a host
    kvmb:exec:slots:cluster       ZSET token → expiry (s)   migrations in the cluster

A worker renews what it holds on every watch poll; a worker that dies stops renewing and
its lease and slots expire after ``ttl_s``. Expiry times come from Redis' own clock
(``TIME``), so workers on different hosts agree. The token is the Celery task id: a
redelivered task finds its own lease and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from balancer.errors import BusyError, RetryableError
from balancer.state.keys import DEFAULT_PREFIX

DEFAULT_TTL_S = 30.0


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class SlotLimits:
    outbound: int
    inbound: int
    cluster: int


@dataclass(frozen=True)
class Coordinator:
    client: redis.Redis
    prefix: str = DEFAULT_PREFIX
    ttl_s: float = DEFAULT_TTL_S

    def lease_key(self, vm: str) -> str:
        return f"{self.prefix}:exec:lease:{vm}"

    def slot_keys(self, source: str, dest: str) -> tuple[str, str, str]:
        p = self.prefix
        return (
            f"{p}:exec:slots:out:{source}",
            f"{p}:exec:slots:in:{dest}",
            f"{p}:exec:slots:cluster",
        )

    def _now(self) -> float:
        seconds, micros = self.client.time()
        return float(seconds) + float(micros) / 1e6

    # -- leases ----------------------------------------------------------------------
    def acquire_lease(self, vm: str, token: str) -> None:
        """Take the VM's lease (or keep it, when ``token`` holds it already)."""
        key, ttl_ms = self.lease_key(vm), int(self.ttl_s * 1000)
        try:
            if self.client.set(key, token, nx=True, px=ttl_ms):
                return
            holder = self.client.get(key)
            if holder is not None and _text(holder) == token:
                self.client.pexpire(key, ttl_ms)
                return
        except redis.RedisError as exc:
            raise RetryableError(f"lease for {vm}: {exc}") from exc
        raise BusyError(f"{vm} is being migrated by another task ({holder!r})")

    def release_lease(self, vm: str, token: str) -> None:
        key = self.lease_key(vm)
        with self.client.pipeline() as pipe:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                if pipe.get(key) == token.encode():
                    pipe.multi()
                    pipe.delete(key)
                    pipe.execute()
            except redis.WatchError:
                pass  # someone else took it meanwhile: not ours to delete

    def lease_holder(self, vm: str) -> str | None:
        value = self.client.get(self.lease_key(vm))
        return None if value is None else _text(value)

    # -- slots -----------------------------------------------------------------------
    def acquire_slots(self, source: str, dest: str, token: str, limits: SlotLimits) -> None:
        """Hold an outbound, an inbound and a cluster slot, all or none (BusyError)."""
        keys = self.slot_keys(source, dest)
        caps = (limits.outbound, limits.inbound, limits.cluster)
        for _attempt in range(20):
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(*keys)  # type: ignore[no-untyped-call]
                    now = self._now()
                    for key, cap in zip(keys, caps, strict=True):
                        holders = {_text(m) for m in pipe.zrangebyscore(key, now, "+inf")} - {token}
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

    def renew(self, vm: str, source: str, dest: str, token: str) -> None:
        now = self._now()
        with self.client.pipeline(transaction=True) as pipe:
            pipe.pexpire(self.lease_key(vm), int(self.ttl_s * 1000))
            for key in self.slot_keys(source, dest):
                pipe.zadd(key, {token: now + self.ttl_s}, xx=True)
            pipe.execute()

    def release_slots(self, source: str, dest: str, token: str) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            for key in self.slot_keys(source, dest):
                pipe.zrem(key, token)
            pipe.execute()

    def slot_holders(self, key: str) -> set[str]:
        return {_text(m) for m in self.client.zrangebyscore(key, self._now(), "+inf")}
