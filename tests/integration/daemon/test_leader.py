"""Leader election on a real redis-server: one leader per epoch, renewal only by the
holder, the renew deadline, resignation, and the timing rules of client-go."""

from __future__ import annotations

import threading

import pytest
import redis

from balancer.daemon.leader import LeaderElector, LeaseTiming, current_epoch, current_leader
from balancer.errors import InputError
from balancer.state.keys import Keys

KEYS = Keys("t")
FAST = LeaseTiming(lease_s=1.5, renew_deadline_s=1.0, retry_s=0.2)


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_first_elector_leads_under_epoch_one_and_the_second_waits(
    redis_client: redis.Redis,
) -> None:
    a = LeaderElector(redis_client, KEYS, "a", FAST)
    b = LeaderElector(redis_client, KEYS, "b", FAST)
    assert a.step() == 1
    assert b.step() is None
    leader = current_leader(redis_client, KEYS)
    assert leader is not None
    assert (leader.id, leader.epoch) == ("a", 1)
    assert a.step() == 1  # renewed, same epoch
    assert 0 < redis_client.pttl(KEYS.leader) <= 1500
    assert int(redis_client.get(KEYS.leader_changes) or 0) == 1


def test_a_takeover_increments_the_epoch(redis_client: redis.Redis) -> None:
    a = LeaderElector(redis_client, KEYS, "a", FAST)
    b = LeaderElector(redis_client, KEYS, "b", FAST)
    assert a.step() == 1
    redis_client.delete(KEYS.leader)  # the lease expired
    assert b.step() == 2
    # a's renewal finds b's record: a stops leading and does not renew b's lease.
    ttl = redis_client.pttl(KEYS.leader)
    assert a.step() is None
    assert a.epoch() is None
    assert redis_client.pttl(KEYS.leader) <= ttl
    assert current_epoch(redis_client, KEYS) == 2


def test_a_renewal_checks_the_epoch_not_only_the_id(redis_client: redis.Redis) -> None:
    a = LeaderElector(redis_client, KEYS, "same", FAST)
    assert a.step() == 1
    # Another process with the same id took over under a newer epoch.
    redis_client.delete(KEYS.leader)
    twin = LeaderElector(redis_client, KEYS, "same", FAST)
    assert twin.step() == 2
    assert a.step() is None


def test_a_leader_that_misses_its_renew_deadline_stops_acting_at_once(
    redis_client: redis.Redis,
) -> None:
    clock = FakeMonotonic()
    a = LeaderElector(redis_client, KEYS, "a", FAST, monotonic=clock)
    assert a.step() == 1
    clock.t += FAST.renew_deadline_s - 0.01
    assert a.epoch() == 1
    clock.t += 0.02  # no renewal went through in time (the process was stopped, say)
    assert a.epoch() is None


def test_renew_deadline_counts_from_before_the_request(redis_client: redis.Redis) -> None:
    """A renewal that takes long is dated from when it was sent (the server's expiry is
    counted from when it arrived, which is no earlier)."""
    clock = FakeMonotonic()
    a = LeaderElector(redis_client, KEYS, "a", FAST, monotonic=clock)
    assert a.step() == 1
    original = a._renew

    def slow(keys: list[str], args: list[str]) -> object:
        clock.t += 0.9  # the reply comes 0.9 s after the request
        return original(keys=keys, args=args)

    a._renew = slow  # type: ignore[assignment]
    clock.t += 0.5
    sent = clock.t
    assert a.step() == 1
    clock.t = sent + FAST.renew_deadline_s + 0.001
    assert a.epoch() is None


def test_resign_frees_the_lease_for_the_next_at_once(redis_client: redis.Redis) -> None:
    a = LeaderElector(redis_client, KEYS, "a", FAST)
    b = LeaderElector(redis_client, KEYS, "b", FAST)
    assert a.step() == 1
    a.resign()
    assert a.epoch() is None
    assert b.step() == 2


def test_resign_does_not_delete_another_leaders_lease(redis_client: redis.Redis) -> None:
    a = LeaderElector(redis_client, KEYS, "a", FAST)
    b = LeaderElector(redis_client, KEYS, "b", FAST)
    assert a.step() == 1
    redis_client.delete(KEYS.leader)
    assert b.step() == 2
    a.resign()
    leader = current_leader(redis_client, KEYS)
    assert leader is not None
    assert leader.id == "b"


def test_many_electors_racing_never_share_an_epoch(redis_client: redis.Redis) -> None:
    electors = [LeaderElector(redis_client, KEYS, f"d{i}", FAST) for i in range(8)]
    results: dict[str, int | None] = {}
    barrier = threading.Barrier(len(electors))

    def campaign(e: LeaderElector) -> None:
        barrier.wait()
        results[e.identity] = e.step()

    threads = [threading.Thread(target=campaign, args=(e,)) for e in electors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    leaders = {k: v for k, v in results.items() if v is not None}
    assert list(leaders.values()) == [1]


def test_the_election_thread_keeps_the_lead_past_several_leases(
    redis_client: redis.Redis,
) -> None:
    a = LeaderElector(redis_client, KEYS, "a", FAST)
    b = LeaderElector(redis_client, KEYS, "b", FAST)
    stop = threading.Event()
    threads = [threading.Thread(target=e.run, args=(stop,)) for e in (a, b)]
    for t in threads:
        t.start()
    try:
        stop.wait(4 * FAST.lease_s)
        assert a.epoch() is not None or b.epoch() is not None
        assert (a.epoch() is None) != (b.epoch() is None)
        assert current_epoch(redis_client, KEYS) == 1
    finally:
        stop.set()
        for t in threads:
            t.join()


@pytest.mark.parametrize(
    ("timing", "field"),
    [
        (LeaseTiming(lease_s=10, renew_deadline_s=10, retry_s=2), "lease_s"),
        (LeaseTiming(lease_s=15, renew_deadline_s=2.4, retry_s=2), "renew_deadline_s"),
        (LeaseTiming(lease_s=float("nan"), renew_deadline_s=10, retry_s=2), "lease_s"),
        (LeaseTiming(lease_s=15, renew_deadline_s=10, retry_s=0), "retry_s"),
    ],
)
def test_timings_are_validated_as_client_go_does(timing: LeaseTiming, field: str) -> None:
    with pytest.raises(InputError) as err:
        timing.check()
    assert err.value.path == field


def test_the_default_timings_are_kubernetes_ones() -> None:
    t = LeaseTiming().check()
    assert (t.lease_s, t.renew_deadline_s, t.retry_s) == (15.0, 10.0, 2.0)
