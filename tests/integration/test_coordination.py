"""Leases and slots on a real redis-server: all-or-none, expiry when a holder dies."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from balancer.errors import BusyError
from workers.executor.coordination import Coordinator, SlotLimits

pytestmark = pytest.mark.redis
LIMITS = SlotLimits(outbound=2, inbound=2, cluster=3)


def test_slots_are_all_or_none(redis_client: redis.Redis) -> None:
    c = Coordinator(redis_client)
    c.acquire_slots("a", "b", "t1", LIMITS)
    c.acquire_slots("a", "c", "t2", LIMITS)
    with pytest.raises(BusyError, match="out:a"):
        c.acquire_slots("a", "d", "t3", LIMITS)
    # t3 took nothing anywhere: the inbound slot of d and the cluster are untouched.
    assert c.slot_holders("kvmb:exec:slots:in:d") == set()
    assert c.slot_holders("kvmb:exec:slots:cluster") == {"t1", "t2"}
    c.acquire_slots("a", "b", "t1", LIMITS)  # the holder asking again keeps its slot
    c.release_slots("a", "b", "t1")
    c.acquire_slots("a", "d", "t3", LIMITS)
    assert c.slot_holders("kvmb:exec:slots:out:a") == {"t2", "t3"}


def test_a_dead_holders_lease_and_slots_expire(redis_client: redis.Redis) -> None:
    dead = Coordinator(redis_client, ttl_s=1.0)
    dead.acquire_lease("vm1", "dead")
    dead.acquire_slots("a", "b", "dead", SlotLimits(1, 1, 1))
    alive = Coordinator(redis_client)
    with pytest.raises(BusyError):
        alive.acquire_lease("vm1", "t2")
    deadline = time.monotonic() + 30
    while alive.lease_holder("vm1") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    alive.acquire_lease("vm1", "t2")
    alive.acquire_slots("a", "b", "t2", SlotLimits(1, 1, 1))
    assert alive.slot_holders("kvmb:exec:slots:out:a") == {"t2"}
    alive.release_lease("vm1", "dead")  # not the holder: nothing happens
    assert alive.lease_holder("vm1") == "t2"


def test_concurrent_takers_never_exceed_the_cap(redis_client: redis.Redis) -> None:
    got: list[str] = []
    lock = threading.Lock()

    def take(token: str) -> None:
        c = Coordinator(redis.Redis(connection_pool=redis_client.connection_pool))
        try:
            c.acquire_slots("a", f"d{token}", token, SlotLimits(2, 5, 10))
        except BusyError:
            return
        with lock:
            got.append(token)

    threads = [threading.Thread(target=take, args=(str(i),)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(got) == 2, got
    assert len(Coordinator(redis_client).slot_holders("kvmb:exec:slots:out:a")) == 2
