"""The executor's state machine and fallback ladder against the simulated hypervisor."""

from __future__ import annotations

import fakeredis
import pytest

from balancer.core.models import Slots
from balancer.errors import BusyError, MigrationAbortedError, PreflightError
from balancer.state.keys import DEFAULT_KEYS as KEYS
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence, Ticket
from workers.executor.machine import Executor
from workers.executor.order import LadderConfig, MigrationOrder, decode, encode
from workers.executor.records import Actual, MemoryRecorder, MigrationRecord
from workers.executor.simulated import SimClock, SimulatedHypervisor, SimVm


class Scene:
    def __init__(self, vm: SimVm) -> None:
        self.clock = SimClock()
        self.hv = SimulatedHypervisor(clock=self.clock.now, default_bandwidth_mib_s=100)
        self.hv.hosts = {"a": {}, "b": {}}
        self.hv.add("a", "vm1", vm)
        self.redis = fakeredis.FakeRedis()
        self.fence = Fence(self.redis)
        self.coord = Coordinator(self.redis)
        self.rec = MemoryRecorder()
        self.ex = Executor(self.hv, self.fence, self.coord, self.rec, clock=self.clock.now,
                           sleep=self.clock.sleep)  # fmt: skip

    def lease_holder(self, vm: str = "vm1") -> str | None:
        return self.fence.holder(KEYS.lease(vm))


def actual(record: MigrationRecord) -> Actual:
    assert record.actual is not None, record
    return record.actual


def order(**kw: object) -> MigrationOrder:
    base: dict[str, object] = {
        "vm": "vm1",
        "source": "a",
        "dest": "b",
        "mode": "live",
        "memory_mib": 1024,
    }
    base.update(kw)
    return decode(base)


def test_converging_live_migration_needs_no_ladder() -> None:
    s = Scene(SimVm(memory_mib=1024, dirty_mib_s=10, working_set_mib=200))
    out = s.ex.run(order(bandwidth_mib_s=100), token="t1")
    assert out.result == "completed"
    assert out.finished_by == ""
    assert [st.step for st in out.steps] == ["start", "skip-postcopy"]
    assert s.hv.domains("a") == ()
    assert s.hv.domains("b") == ("vm1",)
    assert 10 < actual(out).duration_s < 13  # 1024 MiB at 100 MiB/s plus small rounds
    downtime = actual(out).downtime_ms
    assert downtime is not None
    assert downtime <= 100
    assert s.rec.progresses, "progress was published"
    assert s.lease_holder() is None
    assert all(not s.coord.slot_holders(k) for k in s.coord.slot_keys("a", "b"))


def test_nonconverging_guest_finishes_by_suspending_when_postcopy_not_allowed() -> None:
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=48, working_set_mib=200))
    out = s.ex.run(order(memory_mib=512, bandwidth_mib_s=16, downtime_budget_ms=300), "t1")
    steps = [st.step for st in out.steps]
    assert out.result == "completed"
    assert out.finished_by == "suspend"
    assert steps[:2] == ["start", "skip-postcopy"]
    assert steps.count("downtime") == 2
    assert "suspend" in steps
    assert steps[-1] == "resume"
    assert s.hv.domain("b", "vm1") is not None
    assert s.hv.hosts["b"]["vm1"].state == "running"
    suspend = next(st for st in out.steps if st.step == "suspend")
    assert "bandwidth" in suspend.reason or "shrinking" in suspend.reason


def test_postcopy_finishes_a_noncritical_vm_when_allowed() -> None:
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=48, working_set_mib=200))
    out = s.ex.run(order(memory_mib=512, bandwidth_mib_s=16, allow_postcopy=True), "t1")
    assert out.finished_by == "postcopy"
    assert ("suspend", "vm1") not in s.hv.calls
    downtime = actual(out).downtime_ms
    assert downtime is not None
    assert downtime < 100


def test_postcopy_never_for_a_critical_vm() -> None:
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=48, working_set_mib=200))
    out = s.ex.run(
        order(memory_mib=512, bandwidth_mib_s=16, allow_postcopy=True, critical=True), "t1"
    )
    assert ("start_postcopy", "vm1") not in s.hv.calls
    assert out.finished_by == "suspend"
    skip = next(st for st in out.steps if st.step == "skip-postcopy")
    assert "critical" in skip.reason


def test_timeout_aborts_and_leaves_the_vm_running_on_the_source() -> None:
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=48, working_set_mib=200))
    ladder = LadderConfig(rungs=("downtime",), timeout_min_s=60, timeout_s_per_gib=0)
    with pytest.raises(MigrationAbortedError, match="stays on a"):
        s.ex.run(order(memory_mib=512, bandwidth_mib_s=16, ladder=ladder), "t1")
    assert s.hv.domains("a") == ("vm1",)
    assert s.hv.domains("b") == ()
    assert s.hv.hosts["a"]["vm1"].state == "running"
    [out] = s.rec.outcomes
    assert out.result == "failed"
    assert out.detail.startswith("aborted: ")
    assert out.steps[-1].step == "abort"
    assert "timeout" in out.steps[-1].reason
    assert out.finished_at is not None
    assert 60 <= out.finished_at - out.started_at < 63
    assert s.lease_holder() is None


def test_abort_after_suspend_resumes_the_guest_on_the_source() -> None:
    # Round 0 takes 16 s; the ladder climbs at 16, 21 and 26 s (suspend); timeout at 30 s.
    s = Scene(SimVm(memory_mib=4096, dirty_mib_s=300, working_set_mib=3000))
    ladder = LadderConfig(timeout_min_s=30, timeout_s_per_gib=0, step_grace_s=5)
    with pytest.raises(MigrationAbortedError):
        s.ex.run(order(memory_mib=4096, bandwidth_mib_s=256, ladder=ladder), "t1")
    steps = [st.step for st in s.rec.outcomes[0].steps]
    assert "suspend" in steps
    assert steps[-2:] == ["abort", "resume"]
    assert s.hv.hosts["a"]["vm1"].state == "running"


def test_offline_migration_of_a_shut_off_vm() -> None:
    s = Scene(SimVm(memory_mib=1024, state="shutoff"))
    out = s.ex.run(order(mode="offline", expected_state="shutoff"), "t1")
    assert out.result == "completed"
    assert s.hv.hosts["b"]["vm1"].state == "shutoff"


def test_offline_refused_for_a_running_vm() -> None:
    s = Scene(SimVm(memory_mib=1024))
    with pytest.raises(PreflightError, match="expected shutoff"):
        s.ex.run(order(mode="offline"), "t1")
    assert ("start", "vm1") not in s.hv.calls
    assert s.lease_holder() is None


def test_preflight_refuses_a_cpu_the_destination_cannot_run() -> None:
    s = Scene(SimVm(memory_mib=1024, cpu_ok_on=frozenset({"c"})))
    with pytest.raises(PreflightError, match="CPU"):
        s.ex.run(order(), "t1")
    assert s.hv.calls == []


def test_redelivery_after_success_converges_without_a_second_migration() -> None:
    s = Scene(SimVm(memory_mib=256))
    s.ex.run(order(memory_mib=256), "t1")
    again = s.ex.run(order(memory_mib=256), "t1")
    assert again.result == "completed"
    assert [st.step for st in again.steps] == ["converged"]
    assert [c for c in s.hv.calls if c[0] == "start"] == [("start", "vm1")]


def test_redelivery_while_running_adopts_the_job() -> None:
    s = Scene(SimVm(memory_mib=1024))
    s.hv.start("vm1", "a", "b", "live", bandwidth_mib_s=100, max_downtime_ms=100,
               postcopy=False, copy_storage=False)  # fmt: skip
    s.clock.sleep(3)  # the first delivery died 3 s into its migration
    out = s.ex.run(order(), "t1")
    assert out.result == "completed"
    assert out.steps[0].step == "adopt"
    assert [c for c in s.hv.calls if c[0] == "start"] == [("start", "vm1")]


def test_a_vm_leased_by_another_task_is_busy() -> None:
    s = Scene(SimVm(memory_mib=256))
    s.fence.check(KEYS.lease("vm1"), Ticket(id="m0", plan_id="", epoch=None, token="other"))
    with pytest.raises(BusyError):
        s.ex.run(order(memory_mib=256), "t1")
    assert s.hv.calls == []


def test_slots_full_is_busy_after_waiting() -> None:
    s = Scene(SimVm(memory_mib=256))
    o = order(memory_mib=256, slots=Slots(outbound_per_host=1))
    s.coord.acquire_slots("a", "z", "someone", Slots(outbound_per_host=1, inbound_per_host=1))
    with pytest.raises(BusyError, match="slot"):
        s.ex.run(o, "t1")
    assert s.hv.calls == []
    assert s.lease_holder() is None


def test_order_json_round_trip() -> None:
    o = order(allow_postcopy=True, ladder=LadderConfig(stall_iterations=5))
    assert decode(encode(o)) == o


def test_a_planned_postcopy_move_switches_after_the_first_pass() -> None:
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=10, working_set_mib=200))
    o = order(mode="live-postcopy", memory_mib=512, allow_postcopy=True, bandwidth_mib_s=16)
    out = s.ex.run(o, "t1")
    assert out.result == "completed"
    assert out.finished_by == "postcopy"
    assert [st.reason for st in out.steps if st.step == "postcopy"] == ["planned post-copy"]


def test_a_planned_postcopy_move_without_permission_stays_precopy() -> None:
    s = Scene(SimVm(memory_mib=512, dirty_mib_s=10, working_set_mib=200))
    out = s.ex.run(order(mode="live-postcopy", memory_mib=512, allow_postcopy=False), "t1")
    assert out.result == "completed"
    assert ("start_postcopy", "vm1") not in s.hv.calls


def test_the_outcome_records_the_non_zero_memory_the_migration_found() -> None:
    s = Scene(SimVm(memory_mib=1024, resident_mib=256))
    out = s.ex.run(order(bandwidth_mib_s=128), "t1")
    assert actual(out).nonzero_bytes == 256 * 2**20
    assert 1.9 < actual(out).duration_s < 2.2  # 256 MiB at 128 MiB/s, zero pages free
