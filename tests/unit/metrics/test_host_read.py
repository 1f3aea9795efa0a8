"""The exporter's lean read of the hosts: the same states as a snapshot, numbers and VM
counts straight from the reports."""

from __future__ import annotations

import fakeredis
import msgspec

from balancer.metrics.host_read import array_length, read_hosts
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.snapshot_read import snapshot_from_redis
from tests.unit.metrics.store_fixtures import NOW, seed


def test_states_and_numbers_agree_with_a_snapshot(client: fakeredis.FakeRedis) -> None:
    seed(client)
    read = read_hosts(client, KEYS)
    snapshot = snapshot_from_redis(client, keys=KEYS, now=NOW)
    lines = {h.name: h for h in read.hosts}
    assert {h.name: h.state for h in snapshot.hosts} == {n: h.state for n, h in lines.items()}
    assert lines["h1"].vm_count == 2
    assert lines["h2"].vm_count == 1
    assert lines["h1"].cpu_used == snapshot.hosts[0].cpu_used
    assert lines["h1"].cpu_capacity == 16.0
    assert lines["h1"].memory_mib == 65536
    assert (lines["h3"].state, lines["h3"].stale, lines["h3"].power) == ("failed", True, "on")
    assert (lines["h4"].state, lines["h4"].stale, lines["h4"].power) == ("off", False, "off")
    assert (lines["h5"].state, lines["h5"].power) == ("off", "booting")
    assert lines["h1"].vms == ()  # VMs are only decoded with --per-vm
    assert read.unreadable == 0


def test_per_vm_decodes_each_vm_and_a_bad_report_is_counted(client: fakeredis.FakeRedis) -> None:
    seed(client)
    client.sadd(KEYS.hosts, "ghost")
    client.set(KEYS.report("ghost"), b"\xc1 not msgpack")
    read = read_hosts(client, KEYS, per_vm=True)
    lines = {h.name: h for h in read.hosts}
    assert [v.name for v in lines["h1"].vms] == ["a", "b"]
    assert lines["h1"].vms[0].memory_mib == 2048
    assert read.unreadable == 1
    assert "ghost" not in lines


def test_array_length_reads_every_msgpack_array_header() -> None:
    for n in (0, 1, 15, 16, 65535, 65536):
        assert array_length(msgspec.msgpack.encode([0] * n)) == n
    assert array_length(b"") == 0
    assert array_length(msgspec.msgpack.encode("text")) == 0
