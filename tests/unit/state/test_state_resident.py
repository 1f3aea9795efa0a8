"""The executor's measured non-zero memory reaches the snapshot through the host's agent:
the executor writes it into the host's ``vm-resident-mib`` hash, each publish brings that
hash back, and the next report carries it as ``Vm.resident_mib``. The snapshot read
itself reads no per-VM hash: its cost does not grow with the VMs ever migrated."""

from __future__ import annotations

import logging

import fakeredis
import pytest

from balancer.state.keys import Keys
from balancer.state.publish import publish_report, read_resident
from balancer.state.raw_store import _REPORTS, _commands
from balancer.state.report import with_resident
from balancer.state.snapshot_read import snapshot_from_redis
from tests.unit.state.factories import report

KEYS = Keys("t")


def test_the_hash_is_per_host_under_the_prefix() -> None:
    assert KEYS.vm_resident("kvm-01") == "t:host:kvm-01:vm-resident-mib"


def test_a_publish_brings_back_the_hosts_measures(client: fakeredis.FakeRedis) -> None:
    assert publish_report(client, KEYS, report("a", ("v1",))).resident_mib == {}
    client.hset(KEYS.vm_resident("a"), mapping={"v1": "1024.25", "v9": "7"})
    client.hset(KEYS.vm_resident("b"), mapping={"v2": "300"})  # another host's
    published = publish_report(client, KEYS, report("a", ("v1",)))
    assert published.resident_mib == {"v1": 1024.25, "v9": 7.0}
    assert published.generation == 2
    assert read_resident(client, KEYS, "a") == published.resident_mib


def test_with_resident_sets_the_reported_vms_only() -> None:
    r = report("a", ("v1", "v2"))
    merged = with_resident(r, {"v1": 512.5, "gone": 7.0})
    assert [(v.name, v.resident_mib) for v in merged.vms] == [("v1", 512.5), ("v2", None)]
    assert with_resident(merged, {"v1": 512.5}) is merged  # nothing to change: no copy
    assert with_resident(merged, {})  # a measure that is gone is unknown again
    assert [v.resident_mib for v in with_resident(merged, {}).vms] == [None, None]


def test_the_snapshot_carries_what_the_report_carries(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, with_resident(report("a", ("v1", "v2")), {"v1": 1024.25}))
    client.hset(KEYS.vm_resident("a"), mapping={"v2": "64"})  # not yet in a report
    vms = {v.name: v for v in snapshot_from_redis(client, keys=KEYS).vms}
    assert (vms["v1"].resident_mib, vms["v2"].resident_mib) == (1024.25, None)


def test_the_snapshot_transaction_reads_no_per_vm_hash() -> None:
    commands = _commands(KEYS, ("a", "b"), 1000.0)
    assert not [c for c in commands if "resident" in str(c[1])]
    assert {c[0] for c in commands[:_REPORTS]} == {"GET", "HGETALL", "ZRANGE"}
    assert commands[_REPORTS] == ("MGET", KEYS.report("a"), KEYS.report("b"))


@pytest.mark.parametrize("bad", [b"lots", b"-5", b"nan", b"inf", b""])
def test_a_value_that_is_not_a_size_is_left_out_and_logged(
    client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture, bad: bytes
) -> None:
    client.hset(KEYS.vm_resident("a"), mapping={"v1": bad, "v2": b"64"})
    with caplog.at_level(logging.WARNING, logger="balancer.state.publish"):
        measures = publish_report(client, KEYS, report("a", ("v1", "v2"))).resident_mib
    assert measures == {"v2": 64.0}  # v1 unknown: the model counts all its memory
    assert "t:host:a:vm-resident-mib[v1]" in caplog.text
