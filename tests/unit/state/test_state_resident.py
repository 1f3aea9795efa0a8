"""The executor's measured non-zero memory (``kvmb:vm-resident-mib``) read into the
snapshot's ``Vm.resident_mib``: in the read's one transaction, on the named VMs only, a
value that is not a size left out."""

from __future__ import annotations

import logging

import fakeredis
import pytest

from balancer.state.assemble import StoreContents, assemble_snapshot
from balancer.state.keys import Keys
from balancer.state.operator import set_host_state
from balancer.state.publish import publish_report
from balancer.state.raw_store import _REPORTS, _commands
from balancer.state.report import ReportHead
from balancer.state.snapshot_read import read_raw, snapshot_from_redis
from tests.unit.state.factories import host, report, vm

KEYS = Keys("t")


def test_assemble_puts_the_measure_on_the_named_vm_only() -> None:
    head = ReportHead(host=host("a"), vms=(vm("v1", "a"), vm("v2", "a")), collected_at=1.0)
    c = StoreContents(generation=1, reports=[head], alive=frozenset({"a"}),
                      resident_mib={"v1": 512.5, "gone": 7.0})  # fmt: skip
    vms = {v.name: v for v in assemble_snapshot(c, taken_at=0).vms}
    assert vms["v1"].resident_mib == 512.5
    assert vms["v2"].resident_mib is None
    assert set(vms) == {"v1", "v2"}


def test_the_hash_is_read_in_the_transaction_before_the_reports() -> None:
    commands = _commands(KEYS, ("a", "b"))
    assert ("HGETALL", KEYS.vm_resident_mib) in commands[:_REPORTS]
    assert commands[_REPORTS] == ("MGET", KEYS.report("a"), KEYS.report("b"))
    assert KEYS.vm_resident_mib == "t:vm-resident-mib"


def test_snapshot_from_redis_carries_the_stored_measure(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ("v1", "v2"), memory_mib=4096))
    publish_report(client, KEYS, report("b", ("v3",)))
    set_host_state(client, "b", "off", keys=KEYS)  # its VMs change too: both facts apply
    client.hset(KEYS.vm_resident_mib, mapping={"v1": "1024.25", "v3": "300"})
    assert read_raw(client, KEYS).resident_mib == {b"v1": b"1024.25", b"v3": b"300"}
    vms = {v.name: v for v in snapshot_from_redis(client, keys=KEYS).vms}
    assert vms["v1"].resident_mib == 1024.25
    assert vms["v2"].resident_mib is None
    assert (vms["v3"].state, vms["v3"].resident_mib) == ("shutoff", 300.0)


def test_without_the_hash_every_vm_is_unknown(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    assert read_raw(client, KEYS).resident_mib == {}
    assert snapshot_from_redis(client, keys=KEYS).vms[0].resident_mib is None


@pytest.mark.parametrize("bad", [b"lots", b"-5", b"nan", b"inf", b""])
def test_a_value_that_is_not_a_size_is_left_out_and_logged(
    client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture, bad: bytes
) -> None:
    publish_report(client, KEYS, report("a", ("v1", "v2")))
    client.hset(KEYS.vm_resident_mib, mapping={"v1": bad, "v2": b"64"})
    with caplog.at_level(logging.WARNING, logger="balancer.state.snapshot_read"):
        vms = {v.name: v for v in snapshot_from_redis(client, keys=KEYS).vms}
    assert vms["v1"].resident_mib is None  # unknown: the model counts all its memory
    assert vms["v2"].resident_mib == 64.0
    assert "vm-resident-mib[v1]" in caplog.text
