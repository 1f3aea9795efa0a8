"""Preflight re-checks storage and networks on the destination (simulated hypervisor)."""

from __future__ import annotations

import pytest

from balancer.core.models import Disk, Policy
from balancer.core.plan import Move, MoveEstimate, MoveReason
from balancer.errors import PreflightError
from tests.unit.core.factories import vm as core_vm
from tests.unit.executor.test_machine import Scene, order
from workers.executor.hypervisor import Attachments, HostResources
from workers.executor.order import order_from_move
from workers.executor.preflight import fit_problems
from workers.executor.simulated import SimVm

B = HostResources(pools=("default", "shared"), networks=("lab-net",))


def scene(vm: SimVm) -> Scene:
    s = Scene(vm)
    s.hv.host_resources = {"a": B, "b": B}
    return s


def assert_nothing_started(s: Scene) -> None:
    assert not [c for c in s.hv.calls if c[0] == "start"]
    assert s.hv.domains("a") == ("vm1",)
    assert s.lease_holder() is None
    assert all(not s.coord.slot_holders(k) for k in s.coord.slot_keys("a", "b"))


def test_a_vm_on_a_shared_pool_and_an_active_network_moves() -> None:
    s = scene(SimVm(memory_mib=256, pools=("shared",), networks=("lab-net",)))
    out = s.ex.run(order(memory_mib=256, shared_pools=("shared",)), "t1")
    assert out.result == "completed"
    assert s.hv.domains("b") == ("vm1",)


def test_a_network_missing_on_the_destination_refuses_the_move() -> None:
    s = scene(SimVm(memory_mib=256, networks=("backup-net",)))
    with pytest.raises(PreflightError, match="network backup-net is not active on b"):
        s.ex.run(order(memory_mib=256), "t1")
    assert_nothing_started(s)
    [out] = s.rec.outcomes
    assert out.result == "failed"
    assert "backup-net" in out.detail


def test_a_pool_missing_on_the_destination_refuses_the_move() -> None:
    s = scene(SimVm(memory_mib=256, pools=("shared",)))
    s.hv.host_resources["b"] = HostResources(pools=("default",), networks=("lab-net",))
    with pytest.raises(PreflightError, match="storage pool shared is not active on b"):
        s.ex.run(order(memory_mib=256, shared_pools=("shared",)), "t1")
    assert_nothing_started(s)


def test_a_pool_the_plan_did_not_count_as_shared_refuses_a_live_move() -> None:
    s = scene(SimVm(memory_mib=256, pools=("default",)))
    with pytest.raises(PreflightError, match="pool default was not planned as shared"):
        s.ex.run(order(memory_mib=256), "t1")
    assert_nothing_started(s)


def test_an_offline_move_copying_its_disks_needs_only_the_pool() -> None:
    s = scene(SimVm(memory_mib=256, pools=("default",), state="shutoff"))
    o = order(memory_mib=256, mode="offline", expected_state="shutoff", copy_storage=True)
    assert s.ex.run(o, "t1").result == "completed"


def test_fit_problems_lists_every_mismatch() -> None:
    o = order(shared_pools=("shared",))
    needs = Attachments(
        pools=("shared", "nfs1"), remote_disks=("rbd:images",), networks=("lab-net", "x")
    )
    problems = fit_problems(o, needs, B)
    assert problems == [
        "storage pool nfs1 is not active on b",
        "network disk rbd:images was not planned as reachable from b",
        "network x is not active on b",
    ]
    assert fit_problems(o, Attachments(pools=("shared",), networks=("lab-net",)), B) == []


def test_a_file_in_no_pool_fits_only_on_a_mount_the_plan_counted_as_shared() -> None:
    needs = Attachments(unpooled=("/mnt/nfs/vm1.qcow2",))
    on_nfs = order(shared_pools=("mount:/mnt/nfs",))
    assert fit_problems(on_nfs, needs, B) == []
    assert fit_problems(order(shared_pools=("mount:/mnt/nf", "/mnt/nfs")), needs, B) == [
        "disk /mnt/nfs/vm1.qcow2 is in no storage pool and on no shared mount of the plan"
    ]
    s = scene(SimVm(memory_mib=256, unpooled=("/var/lib/vm1.img",)))
    with pytest.raises(PreflightError, match=r"/var/lib/vm1\.img is in no storage pool"):
        s.ex.run(order(memory_mib=256, shared_pools=("mount:/mnt/nfs",)), "t1")
    assert_nothing_started(s)


def test_order_from_move_carries_the_pools_the_plan_counted_as_shared() -> None:
    guest = core_vm(
        "v", "a", disks=(Disk(pool="nfs", shared=True), Disk(pool="local", shared=False))
    )
    estimate = MoveEstimate(duration_s=1.0, downtime_ms=1.0, bytes=1)
    move = Move(
        vm="v",
        source="a",
        to="b",
        mode="live",
        wave=0,
        reason=MoveReason.BALANCE,
        estimate=estimate,
    )
    assert order_from_move(move, guest, Policy(), id="m1").shared_pools == ("nfs",)
