"""Moves that copy disks, rewrite the destination's definition, go over a dedicated link,
and what the executor verifies and measures (simulated hypervisor)."""

from __future__ import annotations

import fakeredis
import pytest

from balancer.core.models import Host, Link, Policy, XmlRewrite
from balancer.core.plan import Move, MoveEstimate, MoveReason
from balancer.errors import PreflightError, VerifyError
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.migrations import Actual, MigrationRecord
from tests.unit.core.factories import host as core_host
from tests.unit.core.factories import vm as core_vm
from tests.unit.executor.test_machine import Scene, order
from workers.executor.hypervisor import Attachments, Completed, HostResources
from workers.executor.move import Move as ExecMove
from workers.executor.order import order_from_move
from workers.executor.records import LINK_SMOOTHING, RedisRecorder, smoothed
from workers.executor.simulated import SimVm

NETS = HostResources(pools=("default", "shared"), networks=("lab-net", "mig-net"))


def scene(vm: SimVm) -> Scene:
    s = Scene(vm)
    s.hv.host_resources = {"a": NETS, "b": NETS}
    return s


def test_a_vm_on_a_local_pool_moves_live_with_its_disk_then_the_source_copy_goes() -> None:
    s = scene(SimVm(memory_mib=256, pools=("default",), disk_mib=64))
    out = s.ex.run(order(memory_mib=256, copy_storage=True, copy_bytes=64 << 20), "t1")
    assert out.result == "completed"
    assert s.hv.started_with is not None
    assert s.hv.started_with.shared_pools == ()
    calls = [c for c, _ in s.hv.calls]
    assert calls.index("remove_source") > calls.index("start")
    removed = next(st for st in out.steps if st.step == "remove-source")
    assert "default/vm1" in removed.reason
    assert "verified on b" in removed.reason
    assert out.steps[0].reason == "mode live, disks copied"
    # the disk went first: 64 MiB more than the memory at 100 MiB/s
    assert actual_bytes(out) >= (256 + 64) << 20


def actual_bytes(record: MigrationRecord) -> int:
    assert record.actual is not None
    assert record.actual.bytes is not None
    return record.actual.bytes


def test_without_a_copy_a_local_pool_refuses_a_live_move() -> None:
    s = scene(SimVm(memory_mib=256, pools=("default",)))
    with pytest.raises(PreflightError, match="its disks copied"):
        s.ex.run(order(memory_mib=256), "t1")
    assert ("remove_source", "vm1") not in s.hv.calls


def test_a_failed_verification_leaves_the_source_copy_in_place() -> None:
    s = scene(SimVm(memory_mib=256, pools=("default",), networks=("lab-net",), disk_mib=8))

    def attachments(host: str, vm: str) -> Attachments:
        spec = s.hv.hosts[host][vm]
        disks = ("vda",) if host == "a" else ()  # the destination lost its disk
        return Attachments(pools=spec.pools, networks=spec.networks, targets=disks)

    s.hv.attachments = attachments  # type: ignore[method-assign]
    with pytest.raises(VerifyError, match="disks none on b, expected vda"):
        s.ex.run(order(memory_mib=256, copy_storage=True), "t1")
    assert ("remove_source", "vm1") not in s.hv.calls
    assert s.rec.outcomes[-1].result == "failed"


def test_an_offline_move_copies_and_verifies_before_removing_the_source() -> None:
    s = scene(SimVm(memory_mib=256, state="shutoff", pools=("default",), disk_mib=128))
    out = s.ex.run(order(mode="offline", expected_state="shutoff", memory_mib=256,
                         copy_storage=True, copy_bytes=128 << 20), "t1")  # fmt: skip
    assert out.result == "completed"
    steps = [st.step for st in out.steps]
    assert steps[-1] == "remove-source"
    assert s.hv.domains("a") == ()
    assert s.hv.hosts["b"]["vm1"].state == "shutoff"
    assert out.actual is not None
    assert out.actual.duration_s == pytest.approx(1.28, abs=0.1)  # 128 MiB at 100 MiB/s
    assert out.actual.bandwidth_mib_s is None  # streamed through the worker: not the link


def test_networks_are_renamed_on_the_destination_and_verified_there() -> None:
    s = scene(SimVm(memory_mib=256, networks=("lab-net",)))
    rewrite = XmlRewrite(networks={"lab-net": "mig-net"}, paths={"/a": "/b"})
    out = s.ex.run(order(memory_mib=256, rewrite=rewrite), "t1")
    assert out.result == "completed"
    assert s.hv.started_with is not None
    assert s.hv.started_with.rewrite == rewrite
    assert s.hv.hosts["b"]["vm1"].networks == ("mig-net",)


def test_a_renamed_network_missing_on_the_destination_is_refused() -> None:
    s = scene(SimVm(memory_mib=256, networks=("lab-net",)))
    rewrite = XmlRewrite(networks={"lab-net": "nowhere"})
    with pytest.raises(PreflightError, match=r"network lab-net \(as nowhere\) is not active"):
        s.ex.run(order(memory_mib=256, rewrite=rewrite), "t1")


def test_the_order_carries_the_link_transport_ladder_and_rewrite() -> None:
    vm = core_vm("v", "a", labels={"max_downtime_ms": "200", "allow_suspend": "false"})
    dest: Host = core_host("b", migration_uri="tcp://10.1.0.12")
    policy = Policy(migration_tls=True, migration_connections=4, migration_compression="zstd",
                    destination_xml={"b": XmlRewrite(paths={"/x": "/y"})})  # fmt: skip
    move = Move(vm="v", source="a", to="b", mode="live", wave=1, reason=MoveReason.BALANCE,
                estimate=MoveEstimate(duration_s=1, downtime_ms=1, bytes=1, rounds=1,
                                      converges=True))  # fmt: skip
    o = order_from_move(move, vm, policy, id="m1", dest=dest)
    assert o.migration_uri == "tcp://10.1.0.12"
    assert (o.tls, o.connections, o.compression) == (True, 4, "zstd")
    assert o.rewrite == XmlRewrite(paths={"/x": "/y"})
    assert o.ladder.initial_downtime_ms == 200  # the label caps the policy's 300 ms
    assert o.downtime_budget_ms == 200
    assert "suspend" not in o.ladder.rungs
    assert o.ladder.rungs == ("downtime", "auto-converge")  # post-copy not allowed


def test_the_label_makes_a_vm_critical_in_its_order() -> None:
    vm = core_vm("v", "a", labels={"critical": "true"})
    move = Move(vm="v", source="a", to="b", mode="live", wave=1, reason=MoveReason.BALANCE,
                estimate=MoveEstimate(duration_s=1, downtime_ms=1, bytes=1, rounds=1,
                                      converges=True))  # fmt: skip
    o = order_from_move(move, vm, Policy(allow_postcopy=True), id="m1")
    assert o.critical
    assert not o.allow_postcopy
    assert o.ladder.initial_downtime_ms == 300  # what the plan's estimate assumed
    assert o.ladder.rungs == ("downtime", "suspend")


def _record(mib_s: float | None, result: str = "completed", mode: str = "live") -> MigrationRecord:
    return MigrationRecord(id="m", vm="v", source="a", dest="b", mode=mode, reason="balance",
                           epoch=None, started_at=10.0, finished_at=20.0, result=result,  # type: ignore[arg-type]
                           actual=Actual(duration_s=10, downtime_ms=1, bytes=1,
                                         bandwidth_mib_s=mib_s))  # fmt: skip


def test_the_link_is_smoothed_from_each_completed_migration() -> None:
    first = smoothed(None, _record(100.0))
    assert first == Link(source="a", dest="b", bandwidth_mib_s=100.0, samples=1, measured_at=20.0)
    second = smoothed(first, _record(200.0))
    assert second is not None
    assert second.bandwidth_mib_s == pytest.approx(100 + LINK_SMOOTHING * 100)
    assert second.samples == 2
    assert smoothed(first, _record(None)) is None
    assert smoothed(first, _record(50.0, result="failed")) is None


def test_the_recorder_keeps_the_pair_bandwidth_in_redis() -> None:
    client = fakeredis.FakeRedis()
    rec = RedisRecorder(client)
    rec.outcome(_record(80.0))
    rec.outcome(_record(120.0))
    link = rec.link("a", "b")
    assert link is not None
    assert link.samples == 2
    assert link.bandwidth_mib_s == pytest.approx(80 + LINK_SMOOTHING * 40)
    assert client.hexists(KEYS.links, "a b")
    assert rec.link("b", "a") is None


def test_throughput_counts_transfer_time_not_set_up() -> None:
    stats = Completed(elapsed_ms=2500, downtime_ms=30, bytes=200 << 20, setup_ms=500)
    assert stats.bandwidth_mib_s == pytest.approx(100.0)
    assert Completed(elapsed_ms=150, downtime_ms=1, bytes=1 << 20).bandwidth_mib_s is None


def test_the_link_rate_is_read_from_the_source_jobs_samples() -> None:
    """Bytes over job time between the first and the latest sample that had sent data:
    the destination's start and the connection, which the completed job's elapsed time
    includes, do not count; under a second of samples the completed job decides."""
    m = ExecMove(order=order(), token="t", started=0.0)
    m.saw(500, 0)  # set-up: nothing sent yet
    assert m.transfer_mib_s() is None
    m.saw(1000, 10 << 20)
    m.saw(1800, 26 << 20)
    assert m.transfer_mib_s() is None  # 0.8 s: too short to tell
    m.saw(3000, 50 << 20)
    assert m.transfer_mib_s() == pytest.approx(20.0)


def test_a_live_move_records_the_rate_its_samples_show() -> None:
    s = Scene(SimVm(memory_mib=512))
    out = s.ex.run(order(memory_mib=512, bandwidth_mib_s=16), "t1")
    assert out.result == "completed"
    assert out.actual is not None
    assert out.actual.bandwidth_mib_s == pytest.approx(16, rel=0.1)
