"""The executor under a fencing epoch (simulated hypervisor, simulated clock, fakeredis with
Lua): a stale or cancelled order starts nothing and is recorded as such; an epoch that
goes stale mid-migration lets the migration finish but climbs no rung; records and the
destination's mark; transient Redis errors never fail a running migration."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import fakeredis
import pytest

from balancer.core.plan import MoveReason
from balancer.errors import MigrationAbortedError, RetryableError
from balancer.state.keys import DEFAULT_KEYS as KEYS
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence, Ticket
from workers.executor.hypervisor import HostResources, MigrationMark
from workers.executor.machine import Executor
from workers.executor.order import LadderConfig, MigrationOrder, decode
from workers.executor.records import MemoryRecorder, MigrationRecord
from workers.executor.simulated import SimClock, SimulatedHypervisor, SimVm

LADDER_CALLS = {"set_max_downtime", "start_postcopy", "suspend"}


class Scene:
    def __init__(self, vm: SimVm, epoch: int = 5) -> None:
        self.clock = SimClock()
        self.hv = SimulatedHypervisor(clock=self.clock.now, default_bandwidth_mib_s=100)
        self.hv.hosts = {"a": {}, "b": {}}
        self.hv.add("a", "vm1", vm)
        self.redis = fakeredis.FakeRedis()
        self.redis.set(KEYS.epoch, epoch)
        self.fence = Fence(self.redis)
        self.rec = MemoryRecorder()
        self.at: list[tuple[float, Callable[[], None]]] = []

    def executor(self, fence: Fence | None = None) -> Executor:
        return Executor(self.hv, fence or self.fence, Coordinator(self.redis), self.rec,
                        clock=self.clock.now, sleep=self.sleep)  # fmt: skip

    def sleep(self, seconds: float) -> None:
        """The clock's sleep, running what a test scheduled once its time has come."""
        self.clock.sleep(seconds)
        for when, act in list(self.at):
            if self.clock.now() >= when:
                self.at.remove((when, act))
                act()

    def later(self, seconds: float, act: Callable[[], None]) -> None:
        self.at.append((self.clock.now() + seconds, act))

    def new_leader(self) -> None:
        self.redis.incr(KEYS.epoch)


def order(**kw: object) -> MigrationOrder:
    base: dict[str, object] = {"id": "m1", "plan_id": "p1", "epoch": 5, "reason": "relief",
                               "vm": "vm1", "source": "a", "dest": "b", "mode": "live",
                               "memory_mib": 512}  # fmt: skip
    return decode(base | kw)


def steps(record: MigrationRecord) -> list[str]:
    return [st.step for st in record.steps]


def test_a_stale_epoch_starts_nothing_and_is_recorded_fenced() -> None:
    s = Scene(SimVm(memory_mib=512), epoch=6)
    out = s.executor().run(order(epoch=5), "t1")
    assert out.result == "fenced"
    assert "current epoch is 6" in out.detail
    assert s.hv.calls == []
    assert s.rec.runs == []
    assert s.rec.outcomes == [out]
    assert (out.id, out.plan_id, out.epoch, out.reason) == ("m1", "p1", 5, "relief")
    assert out.actual is None
    assert out.finished_at is not None
    assert s.fence.holder(KEYS.lease("vm1")) is None
    assert s.hv.domains("a") == ("vm1",)


def test_a_cancelled_move_starts_nothing_and_is_recorded_cancelled() -> None:
    s = Scene(SimVm(memory_mib=512))
    s.fence.cancel(["p1"])  # the whole plan
    out = s.executor().run(order(), "t1")
    assert out.result == "cancelled"
    assert s.hv.calls == []
    assert [o.result for o in s.rec.outcomes] == ["cancelled"]


class LateLeader(SimulatedHypervisor):
    """A new leader takes over while preflight reads the destination's resources."""

    on_resources: Callable[[], None] = staticmethod(lambda: None)

    def resources(self, host: str) -> HostResources:
        self.on_resources()
        return super().resources(host)


def test_the_epoch_is_checked_again_right_before_the_start() -> None:
    s = Scene(SimVm(memory_mib=512))
    hv = LateLeader(clock=s.clock.now, default_bandwidth_mib_s=100)
    hv.hosts = s.hv.hosts
    hv.on_resources = s.new_leader
    s.hv = hv
    out = s.executor().run(order(), "t1")
    assert out.result == "fenced"
    assert ("start", "vm1") not in hv.calls
    slots = Coordinator(s.redis)
    assert all(not slots.slot_holders(k) for k in slots.slot_keys("a", "b"))
    assert s.fence.holder(KEYS.lease("vm1")) is None


def test_a_migration_whose_epoch_goes_stale_finishes_but_climbs_no_rung() -> None:
    # A planned post-copy move switches after the first pass (10 s here); the epoch goes
    # stale at 2 s: the switch is refused, the pre-copy migration converges on its own.
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=10, working_set_mib=200))
    s.later(2.0, s.new_leader)
    out = s.executor().run(order(mode="live-postcopy", allow_postcopy=True, bandwidth_mib_s=50),
                           "t1")  # fmt: skip
    assert out.result == "completed"
    assert out.finished_by == ""
    assert not LADDER_CALLS & {c for c, _ in s.hv.calls}
    fenced = next(st for st in out.steps if st.step == "fenced")
    assert "current epoch is 6" in fenced.reason
    assert fenced.at_s >= 10  # refused when the switch was due, after the first pass
    assert "postcopy" not in steps(out)
    assert s.hv.domains("b") == ("vm1",)
    assert s.hv.hosts["b"]["vm1"].mark == MigrationMark(epoch=5, id="m1", plan="p1")


def test_the_same_move_under_a_current_epoch_does_switch() -> None:
    """The counterpart of the test above: the fence, not the move, stopped the rung."""
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=10, working_set_mib=200))
    out = s.executor().run(order(mode="live-postcopy", allow_postcopy=True, bandwidth_mib_s=50),
                           "t1")  # fmt: skip
    assert out.finished_by == "postcopy"
    assert ("start_postcopy", "vm1") in s.hv.calls


def test_a_stale_epoch_never_climbs_a_nonconverging_migration_it_times_out() -> None:
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=48, working_set_mib=200))
    s.later(1.0, s.new_leader)
    ladder = LadderConfig(timeout_min_s=90, timeout_s_per_gib=0)
    with pytest.raises(MigrationAbortedError):
        s.executor().run(order(bandwidth_mib_s=16, ladder=ladder), "t1")
    assert not LADDER_CALLS & {c for c, _ in s.hv.calls}
    assert ("abort", "vm1") in s.hv.calls  # the timeout's abort is not a rung: it is safe
    [out] = s.rec.outcomes
    assert out.result == "failed"
    assert steps(out).count("fenced") == 1
    assert s.hv.domains("a") == ("vm1",)


def test_a_lease_taken_by_another_task_stops_the_ladder() -> None:
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=48, working_set_mib=200))

    def steal() -> None:
        s.redis.set(KEYS.lease("vm1"), "thief 5", px=60_000)

    s.later(1.0, steal)
    with pytest.raises(MigrationAbortedError):
        s.executor().run(order(bandwidth_mib_s=16, ladder=LadderConfig(timeout_min_s=60)), "t1")
    assert not LADDER_CALLS & {c for c, _ in s.hv.calls}
    assert "lost" in steps(s.rec.outcomes[0])
    assert s.fence.holder(KEYS.lease("vm1")) == "thief"  # not released by the loser


def test_records_running_then_ended_and_the_destination_is_marked() -> None:
    s = Scene(SimVm(memory_mib=256))
    out = s.executor().run(order(memory_mib=256, reason=MoveReason.EVACUATION), "t1")
    [running] = s.rec.runs
    assert (running.result, running.finished_at, running.actual) == ("running", None, None)
    assert (running.id, running.reason, running.started_at) == ("m1", "evacuation", out.started_at)
    assert out.result == "completed"
    assert out.finished_at is not None
    assert out.finished_at > out.started_at
    assert s.hv.calls[-1] == ("mark", "vm1")
    assert s.hv.hosts["b"]["vm1"].mark == MigrationMark(epoch=5, id="m1", plan="p1")


def test_an_order_without_an_id_is_recorded_under_its_task_id() -> None:
    s = Scene(SimVm(memory_mib=256))
    out = s.executor().run(order(id="", epoch=None, memory_mib=256), "task-7")
    assert out.id == "task-7"
    assert s.hv.hosts["b"]["vm1"].mark == MigrationMark(epoch=None, id="task-7", plan="p1")


class FlakyFence(Fence):
    """Redis away for the renewals and fence checks of a window of polls."""

    def __init__(self, client: fakeredis.FakeRedis, away: Callable[[], bool]) -> None:
        super().__init__(client)
        self.away = away
        self.refused = 0

    def renew(self, lease: str, t: Ticket, slot_keys: Sequence[str] = ()) -> str | None:
        if self.away():
            self.refused += 1
            raise RetryableError("Redis unavailable to renew: ConnectionError")
        return super().renew(lease, t, slot_keys)

    def check(self, lease: str, t: Ticket) -> None:
        if self.away():
            self.refused += 1
            raise RetryableError("Redis unavailable to check the fence: ConnectionError")
        super().check(lease, t)


class FlakyRecorder(MemoryRecorder):
    def __init__(self, away: Callable[[], bool]) -> None:
        super().__init__()
        self.away = away

    def progress(self, p: object) -> None:
        if self.away():
            raise RetryableError("Redis unavailable to publish: ConnectionError")
        super().progress(p)  # type: ignore[arg-type]

    def outcome(self, r: MigrationRecord) -> None:
        if self.away():
            raise RetryableError("Redis unavailable to record: ConnectionError")
        super().outcome(r)


def test_redis_away_mid_migration_does_not_fail_it() -> None:
    # Redis is away from 3 s to 20 s of a 1024 MiB move at 100 MiB/s (about 11 s): the
    # job is watched on, progress and renewals are skipped, the ended record waits for
    # Redis to come back.
    s = Scene(SimVm(memory_mib=1024, dirty_mib_s=5, working_set_mib=50))
    t0 = s.clock.now()

    def away() -> bool:
        return 3.0 <= s.clock.now() - t0 < 20.0

    fence, rec = FlakyFence(s.redis, away), FlakyRecorder(away)
    s.rec = rec
    out = s.executor(fence).run(order(memory_mib=1024), "t1")
    assert out.result == "completed"
    assert fence.refused > 3
    assert [o.result for o in rec.outcomes] == ["completed"]
    assert out.finished_at is not None
    assert out.finished_at - t0 < 13  # when the migration ended ...
    assert s.clock.now() - t0 >= 20.0  # ... written once Redis was back
    assert s.hv.domains("b") == ("vm1",)


def test_a_redelivered_order_whose_epoch_went_stale_watches_its_migration_to_the_end() -> None:
    """The first delivery started the migration and died; the epoch went stale since. The
    redelivery is not recorded fenced while its migration runs on: it adopts the job, climbs
    no rung, and records the landing."""
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=10, working_set_mib=200))
    first = order(mode="live-postcopy", allow_postcopy=True, bandwidth_mib_s=50)
    s.hv.start("vm1", "a", "b", "live-postcopy", bandwidth_mib_s=50, max_downtime_ms=100,
               postcopy=True, copy_storage=False)  # fmt: skip
    s.rec.running(MigrationRecord(id="m1", plan_id="p1", vm="vm1", source="a", dest="b",
                                  mode="live-postcopy", reason="relief", epoch=5,
                                  started_at=s.clock.now(), result="running"))  # fmt: skip
    s.clock.sleep(2)
    s.new_leader()
    out = s.executor().run(first, "t1")
    assert out.result == "completed"
    assert steps(out)[:2] == ["fenced", "adopt"]
    assert [c for c, _ in s.hv.calls] == ["start", "mark"]  # no rung, no second start
    assert s.hv.domains("b") == ("vm1",)


def test_a_stale_redelivery_of_an_order_that_never_started_is_fenced() -> None:
    s = Scene(SimVm(memory_mib=512))
    s.new_leader()
    assert s.executor().run(order(), "t1").result == "fenced"
    assert s.hv.calls == []
