"""The report leaves out fields at their default: smaller, decoded to the same structs."""

from __future__ import annotations

import msgspec

from balancer.core.models import Devices
from balancer.state.keys import SCHEMA_VERSION
from balancer.state.report import decode_report, decode_report_head, encode_report, report_msgpack
from tests.unit.state.factories import report


def test_defaults_are_left_out_and_come_back() -> None:
    r = report("kvm-1", ("a", "b"))
    data = msgspec.msgpack.decode(report_msgpack(r))
    vm = data["vms"][0]
    for absent in ("devices", "numa_pinned", "critical", "last_migrated_at", "labels",
                   "working_set_mib", "dirty_rate_mib_s"):  # fmt: skip
        assert absent not in vm
    assert "state_reason" not in data["host"]
    assert "power" not in data["host"]
    assert decode_report(encode_report(r)) == r
    assert decode_report_head(encode_report(r)).vms == r.vms


def test_schema_is_always_written() -> None:
    data = msgspec.msgpack.decode(report_msgpack(report("kvm-1")))
    assert data["schema"] == SCHEMA_VERSION


def test_values_that_differ_from_the_default_are_kept() -> None:
    r = report("kvm-1", ("a",), critical=True, devices=Devices(sriov=1),
               labels={"tier": "db"}, last_migrated_at=5.0)  # fmt: skip
    vm = msgspec.msgpack.decode(report_msgpack(r))["vms"][0]
    assert (vm["critical"], vm["devices"]["sriov"], vm["labels"], vm["last_migrated_at"]) == (
        True, 1, {"tier": "db"}, 5.0,
    )  # fmt: skip
    assert decode_report(encode_report(r)) == r


def test_smaller_than_every_field() -> None:
    r = report("kvm-1", tuple(f"vm{i}" for i in range(40)))
    assert len(report_msgpack(r)) < 0.8 * len(msgspec.msgpack.encode(r))
