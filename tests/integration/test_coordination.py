"""Leases (the fence's scripts) and slots on a real redis-server: all-or-none slots,
expiry when a holder dies, renewal only by the holder."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from balancer.core.models import Slots
from balancer.errors import BusyError, FencedError
from balancer.state.keys import DEFAULT_KEYS as KEYS
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence, Ticket

pytestmark = pytest.mark.redis
LIMITS = Slots(outbound_per_host=2, inbound_per_host=2, cluster=3)


def ticket(token: str, epoch: int | None = None) -> Ticket:
    return Ticket(id=f"m-{token}", plan_id="", epoch=epoch, token=token)


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
    one = Slots(outbound_per_host=1, inbound_per_host=1, cluster=1)
    dead, dead_slots = Fence(redis_client, ttl_s=1.0), Coordinator(redis_client, ttl_s=1.0)
    dead.check(KEYS.lease("vm1"), ticket("dead"))
    dead_slots.acquire_slots("a", "b", "dead", one)
    alive = Fence(redis_client)
    with pytest.raises(BusyError):
        alive.check(KEYS.lease("vm1"), ticket("t2"))
    deadline = time.monotonic() + 30
    while alive.holder(KEYS.lease("vm1")) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    alive.check(KEYS.lease("vm1"), ticket("t2"))
    Coordinator(redis_client).acquire_slots("a", "b", "t2", one)
    assert Coordinator(redis_client).slot_holders("kvmb:exec:slots:out:a") == {"t2"}
    assert not alive.release(KEYS.lease("vm1"), "dead")  # not the holder: nothing happens
    assert alive.holder(KEYS.lease("vm1")) == "t2"


def test_a_non_holder_never_renews_a_lease(redis_client: redis.Redis) -> None:
    """The old GET-then-PEXPIRE race: a task whose lease expired and went to another task
    must not extend the new holder's lease (nor push its own slots)."""
    lease, slots = KEYS.lease("vm1"), Coordinator(redis_client).slot_keys("a", "b")
    Fence(redis_client, ttl_s=1.0).check(lease, ticket("new", epoch=None))
    stale = Fence(redis_client)
    assert stale.renew(lease, ticket("old"), slots) == "new -"
    assert 0 < redis_client.pttl(lease) <= 1000
    assert all(redis_client.zcard(k) == 0 for k in slots)
    time.sleep(1.2)
    assert stale.holder(lease) is None  # the holder stopped renewing: it expired as set


def test_the_epoch_is_read_in_the_same_step_as_the_lease(redis_client: redis.Redis) -> None:
    redis_client.set(KEYS.epoch, 2)
    fence = Fence(redis_client)
    fence.check(KEYS.lease("vm1"), ticket("t1", epoch=2))
    redis_client.incr(KEYS.epoch)  # a new leader
    with pytest.raises(FencedError):
        fence.check(KEYS.lease("vm1"), ticket("t1", epoch=2))
    assert redis_client.get(KEYS.lease("vm1")) == b"t1 2"  # kept for the running migration
    assert fence.renew(KEYS.lease("vm1"), ticket("t1", epoch=2)) is None


def test_concurrent_takers_never_exceed_the_cap(redis_client: redis.Redis) -> None:
    got: list[str] = []
    lock = threading.Lock()

    def take(token: str) -> None:
        c = Coordinator(redis.Redis(connection_pool=redis_client.connection_pool))
        try:
            limits = Slots(outbound_per_host=2, inbound_per_host=5, cluster=10)
            c.acquire_slots("a", f"d{token}", token, limits)
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


def test_concurrent_fence_checks_give_the_lease_to_one(redis_client: redis.Redis) -> None:
    winners: list[str] = []
    lock = threading.Lock()

    def take(token: str) -> None:
        fence = Fence(redis.Redis(connection_pool=redis_client.connection_pool))
        try:
            fence.check(KEYS.lease("vm1"), ticket(token))
        except BusyError:
            return
        with lock:
            winners.append(token)

    threads = [threading.Thread(target=take, args=(f"t{i}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(winners) == 1, winners
    assert Fence(redis_client).holder(KEYS.lease("vm1")) == winners[0]


def test_a_lease_that_expired_and_was_taken_is_not_renewed_by_its_first_holder(
    redis_client: redis.Redis,
) -> None:
    """A holds, stops renewing (paused), its lease expires, B takes it; A wakes and renews:
    refused, B keeps the lease with B's own expiry, and A's slots are not pushed."""
    lease, slots = KEYS.lease("vm1"), Coordinator(redis_client).slot_keys("a", "b")
    first, second = Fence(redis_client, ttl_s=0.3), Fence(redis_client, ttl_s=5.0)
    first.check(lease, ticket("A"))
    assert first.renew(lease, ticket("A"), slots) is None  # the holder renews
    deadline = time.monotonic() + 10
    while first.holder(lease) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    second.check(lease, ticket("B"))
    ttl_before = redis_client.pttl(lease)
    expiries = [redis_client.zscore(k, "A") for k in slots]
    assert first.renew(lease, ticket("A"), slots) == "B -"
    assert [redis_client.zscore(k, "A") for k in slots] == expiries
    assert first.holder(lease) == "B"
    assert redis_client.pttl(lease) <= ttl_before  # not extended to A's TTL or any other
    assert not first.release(lease, "A")  # nor released by A
    assert first.holder(lease) == "B"
