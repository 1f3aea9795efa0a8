"""Reports no real host sends are quarantined (host failed with the reason, numbers
clamped, VMs out); the executor's records are evidence for a VM claimed twice."""

from __future__ import annotations

import math

import msgspec
import pytest

from balancer.core.models import HostCpu
from balancer.state.distrust import (
    MAX_MEMORY_MIB,
    claims_by_record,
    implausible,
    quarantined,
)
from balancer.state.migrations import MigrationRecord
from balancer.state.report import ReportHead
from tests.unit.state.factories import host, vm


def head(host_kw: dict[str, object] | None = None, **vm_kw: object) -> ReportHead:
    return ReportHead(host=host("h1", **(host_kw or {})), vms=(vm("v1", "h1", **vm_kw),),
                      collected_at=1.0)  # fmt: skip


def test_a_real_report_is_plausible() -> None:
    assert implausible(head()) is None


@pytest.mark.parametrize(
    ("host_kw", "vm_kw", "field"),
    [
        ({"memory_mib": 2**62}, {}, "memory_mib"),
        ({"cpu": HostCpu(vendor="Intel", model="x", cores=10**9)}, {}, "cpu.cores"),
        ({"cpu_used": math.inf}, {}, "cpu_used"),
        ({"cpu_used": math.nan}, {}, "cpu_used"),
        ({"migration_bandwidth_mib_s": 1e300}, {}, "migration_bandwidth_mib_s"),
        ({}, {"cpu_used": math.inf}, "VM v1: cpu_used"),
        ({}, {"cpu_used": 25.0}, "VM v1: cpu_used"),  # more than 1.5 x the host's 16 cores
        ({}, {"memory_mib": 2**40}, "VM v1: memory_mib"),
        ({}, {"dirty_rate_mib_s": math.inf}, "VM v1: dirty_rate_mib_s"),
    ],
)
def test_values_out_of_bounds_are_implausible(
    host_kw: dict[str, object], vm_kw: dict[str, object], field: str
) -> None:
    why = implausible(head(host_kw, **vm_kw))
    assert why is not None
    assert why.startswith("implausible report: ")
    assert field in why


def test_a_vm_may_use_a_little_more_than_the_hosts_cores_measured() -> None:
    assert implausible(head(cpu_used=17.0)) is None  # 16 cores: measuring jitter


def test_too_many_vms_are_implausible() -> None:
    many = ReportHead(host=host("h1"), vms=tuple(vm(f"v{i}", "h1") for i in range(10_001)),
                      collected_at=1.0)  # fmt: skip
    assert "10001 VMs" in (implausible(many) or "")


def test_a_quarantined_host_is_failed_clamped_and_empty() -> None:
    bad = head({"memory_mib": 2**62, "cpu_used": math.inf})
    q = quarantined(bad, "implausible report: memory_mib")
    assert (q.host.state, q.host.state_reason) == ("failed", "implausible report: memory_mib")
    assert q.host.memory_mib == MAX_MEMORY_MIB
    assert q.host.cpu_used == 0.0
    assert q.vms == ()
    assert implausible(q) is None  # what is left is a plausible (failed) host


def _record(result: str, vm: str = "v", source: str = "a", dest: str = "b") -> bytes:
    return msgspec.json.encode(MigrationRecord(
        id="m", vm=vm, source=source, dest=dest, mode="live", reason="balance", epoch=None,
        started_at=1.0, finished_at=2.0, result=result))  # type: ignore[arg-type]  # fmt: skip


def test_records_say_where_a_migration_left_the_vm() -> None:
    assert claims_by_record({"v": _record("completed")}) == {"v": "b"}
    assert claims_by_record({"v": _record("failed")}) == {"v": "a"}
    assert claims_by_record({"v": _record("running")}) == {}
    assert claims_by_record({"w": _record("completed")}) == {}  # a record of another VM
    assert claims_by_record({"v": b"not json", "x": None}) == {}


def test_a_migration_under_way_keeps_the_vm_on_its_source() -> None:
    """During a live migration both hosts report the guest running: the executor's
    running record (newer than the VM's last outcome) says it has not moved yet."""
    last = _record("completed", source="b", dest="a")  # an earlier move landed it on a
    assert claims_by_record({"v": last}, [_record("running", source="a", dest="c")]) == {"v": "a"}
    assert claims_by_record({"v": None}, [_record("running", source="c", dest="a")]) == {"v": "c"}
    # a running record of a VM not asked about, or one that does not decode, says nothing
    assert claims_by_record({"v": None}, [_record("running", vm="w"), b"{"]) == {}
    # an ended record in the running hash is no running migration
    assert claims_by_record({"v": None}, [_record("failed", source="c")]) == {}
