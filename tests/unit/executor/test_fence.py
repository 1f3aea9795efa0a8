"""The fence's scripts (fakeredis runs Lua through lupa; the same scripts against a real
redis-server: tests/integration/test_coordination.py): cancelled → epoch → lease, in one
step; renewal only by the holder."""

from __future__ import annotations

import fakeredis
import pytest

from balancer.errors import BusyError, CancelledError, FencedError
from balancer.state.keys import DEFAULT_KEYS as KEYS
from workers.executor.fence import Fence, Ticket

LEASE = KEYS.lease("vm1")


def ticket(token: str = "t1", epoch: int | None = 3, id: str = "m1", plan: str = "p1") -> Ticket:
    return Ticket(id=id, plan_id=plan, epoch=epoch, token=token)


def test_the_current_epoch_takes_the_lease_with_token_and_epoch(
    client: fakeredis.FakeRedis,
) -> None:
    client.set(KEYS.epoch, 3)
    Fence(client).check(LEASE, ticket())
    assert client.get(LEASE) == b"t1 3"
    assert 29_000 < client.pttl(LEASE) <= 30_000
    Fence(client).check(LEASE, ticket())  # the holder again: kept
    assert client.get(LEASE) == b"t1 3"


def test_a_stale_epoch_is_fenced_and_takes_nothing(client: fakeredis.FakeRedis) -> None:
    client.set(KEYS.epoch, 4)
    with pytest.raises(FencedError, match="epoch 3; the current epoch is 4"):
        Fence(client).check(LEASE, ticket(epoch=3))
    assert client.get(LEASE) is None
    client.delete(KEYS.epoch)  # no leader epoch at all: an epoch-bearing order is fenced
    with pytest.raises(FencedError, match="unset"):
        Fence(client).check(LEASE, ticket(epoch=3))


def test_an_operator_order_is_not_fenced_by_leadership(client: fakeredis.FakeRedis) -> None:
    client.set(KEYS.epoch, 9)
    Fence(client).check(LEASE, ticket(epoch=None))
    assert client.get(LEASE) == b"t1 -"


def test_a_cancelled_move_or_plan_is_refused_before_the_epoch(
    client: fakeredis.FakeRedis,
) -> None:
    fence = Fence(client)
    client.set(KEYS.epoch, 1)  # stale for the order too: cancelled is checked first
    assert fence.cancel(["m1"]) == 1
    assert fence.cancel(["m1", ""]) == 0  # already cancelled; empty ids ignored
    with pytest.raises(CancelledError):
        fence.check(LEASE, ticket(epoch=3))
    assert fence.cancel(["p2"]) == 1
    with pytest.raises(CancelledError, match="plan p2"):
        fence.check(LEASE, ticket(id="m2", plan="p2", epoch=None))
    fence.check(LEASE, ticket(id="m3", plan="p3", epoch=None))  # others go on
    assert client.get(LEASE) == b"t1 -"


def test_old_cancellations_are_pruned(client: fakeredis.FakeRedis) -> None:
    client.zadd(KEYS.cancelled, {"ancient": 1.0})
    Fence(client).cancel(["new"])
    assert client.zrange(KEYS.cancelled, 0, -1) == [b"new"]


def test_a_lease_held_by_another_token_is_busy(client: fakeredis.FakeRedis) -> None:
    client.set(KEYS.epoch, 3)
    Fence(client).check(LEASE, ticket(token="other"))
    with pytest.raises(BusyError, match="other 3"):
        Fence(client).check(LEASE, ticket(token="t1"))
    assert client.get(LEASE) == b"other 3"


def test_only_the_holder_renews_and_pushes_its_slots(client: fakeredis.FakeRedis) -> None:
    fence, slots = Fence(client), [KEYS.slots_out("a"), KEYS.slots_cluster]
    client.set(LEASE, "other 3", px=5000)
    assert fence.renew(LEASE, ticket(token="t1"), slots) == "other 3"
    assert client.pttl(LEASE) <= 5000  # not extended for a non-holder
    assert client.zcard(slots[0]) == 0
    client.set(LEASE, "t1 3", px=5000)
    assert fence.renew(LEASE, ticket(token="t1"), slots) is None
    assert client.pttl(LEASE) > 29_000
    now = float(client.time()[0])
    for key in slots:
        expiry = client.zscore(key, "t1")
        assert expiry is not None
        assert now + 29 < expiry < now + 32


def test_renewal_retakes_a_lease_that_vanished(client: fakeredis.FakeRedis) -> None:
    """Redis restarted without its data mid-migration: the running task takes it back."""
    assert Fence(client).renew(LEASE, ticket(token="t1", epoch=None)) is None
    assert client.get(LEASE) == b"t1 -"


def test_release_only_by_the_holder(client: fakeredis.FakeRedis) -> None:
    fence = Fence(client)
    client.set(LEASE, "other 3")
    assert not fence.release(LEASE, "t1")
    assert fence.holder(LEASE) == "other"
    assert fence.release(LEASE, "other")
    assert fence.holder(LEASE) is None
