"""One collection against libvirt's test:/// driver (a host defined by an XML file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import libvirt
import pytest

from balancer.bench.fake_node import StatsFaker, apply_states, domain_xml, node_xml
from balancer.core.models import Power, Snapshot
from balancer.core.validate import check
from workers.agent.collector import Collector, CollectorConfig
from workers.agent.connection import open_connection
from workers.agent.host_usage import Counters

SRIOV = (
    "<interface type='hostdev'><source><address type='pci' domain='0' bus='1' slot='0' "
    "function='1'/></source></interface>"
)


def _counters(at: float) -> Counters:
    return Counters(at, 8, at * 2.0, at * 8.0, 32768, 8192, (0.5, 0.4, 0.3), 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def node(tmp_path: Path) -> Path:
    path = tmp_path / "node.xml"
    path.write_text(
        node_xml(
            [
                domain_xml("web-1", labels={"tier": "web"}),
                domain_xml("db-1", critical=True, memory_mib=4096, vcpus=4),
                domain_xml("batch-1", pool="local-pool"),
                domain_xml("gpu-1", extra_devices=SRIOV),
            ]
        )
    )
    return path


@pytest.fixture
def conn(node: Path) -> Iterator[libvirt.virConnect]:
    c = open_connection(f"test://{node}")
    apply_states(c, {"batch-1": "shutoff", "gpu-1": "paused"})
    yield c
    c.close()


def _collector(node: Path, clock: Clock, xml_refresh_s: float = 60.0) -> Collector:
    config = CollectorConfig(
        host_name="kvm-01", uri=f"test://{node}", interval_s=10, xml_refresh_s=xml_refresh_s
    )
    return Collector(config, clock=clock, counters=_counters)


def test_report_from_the_test_driver(node: Path, conn: libvirt.virConnect) -> None:
    clock = Clock()
    collector = _collector(node, clock)
    collector.attach(conn)
    report = collector.collect()
    host = report.host
    assert (host.name, host.state, host.uri) == ("kvm-01", "active", f"test://{node}")
    assert (host.cpu.vendor, host.cpu.model) == ("Intel", "Skylake-Client")
    assert "avx2" in host.cpu.features  # expanded from the model through libvirt's CPU map
    assert host.cpu.cores == 8
    assert host.memory_mib == 32768
    assert host.memory_used_mib == 8192
    assert host.storage_pools == ("local-pool", "shared-pool")
    assert host.networks == ("default",)
    vms = {v.name: v for v in report.vms}
    assert set(vms) == {"web-1", "db-1", "batch-1", "gpu-1"}
    assert (vms["batch-1"].state, vms["gpu-1"].state, vms["web-1"].state) == (
        "shutoff",
        "paused",
        "running",
    )
    assert vms["db-1"].critical
    assert vms["db-1"].memory_mib == 4096
    assert vms["db-1"].vcpus == 4
    assert vms["web-1"].labels == {"tier": "web"}
    assert vms["web-1"].machine_type == "pc-q35-10.0"
    assert vms["web-1"].disks[0].pool == "shared-pool"
    assert vms["web-1"].disks[0].shared
    assert not vms["batch-1"].disks[0].shared
    assert vms["gpu-1"].devices.sriov == 1
    assert {p.name: p.shared for p in report.pools} == {"shared-pool": True, "local-pool": False}
    assert any("dirty rate" in s for s in report.skipped)  # the test driver cannot measure
    # the report is a valid piece of a snapshot
    check(Snapshot(version=1, taken_at=0, generation=0, hosts=(host,), vms=report.vms))


def test_cpu_from_cpu_time_deltas_and_dirty_rates(node: Path, conn: libvirt.virConnect) -> None:
    clock = Clock()
    faker = StatsFaker(conn, cores_used=lambda n: 1.5 if n == "db-1" else 0.25, clock=clock)
    collector = _collector(node, clock)
    collector.attach(cast(libvirt.virConnect, faker))
    first = collector.collect()
    assert all(v.cpu_used == 0.0 for v in first.vms)  # one sample: no rate yet
    clock.now += 10
    second = {v.name: v for v in collector.collect().vms}
    assert second["db-1"].cpu_used == pytest.approx(1.5, rel=0.01)
    assert second["web-1"].cpu_used == pytest.approx(0.25, rel=0.01)
    assert second["web-1"].dirty_rate_mib_s == 8.0
    assert second["web-1"].memory_mib == 1024  # balloon.current
    assert second["web-1"].disks[0].bytes == 10 * 2**30  # block.0.capacity
    assert second["batch-1"].cpu_used == 0.0  # shut off


def test_one_stats_call_per_collection_and_xml_cached(node: Path, conn: libvirt.virConnect) -> None:
    clock = Clock()
    faker = StatsFaker(conn, clock=clock)
    collector = _collector(node, clock, xml_refresh_s=60)
    collector.attach(cast(libvirt.virConnect, faker))
    collector.collect()
    assert (faker.stats_calls, faker.xml_calls) == (1, 4)
    for _ in range(5):
        clock.now += 10
        collector.collect()
    assert faker.stats_calls == 6
    assert faker.xml_calls == 4  # nothing re-read before xml_refresh_s
    clock.now += 10  # 60 s after the first read: refreshes start, a fair share at a time
    collector.collect()
    assert faker.xml_calls == 4 + 1  # ceil(4 domains * 10 s / 60 s) = 1


def test_state_change_rereads_xml(node: Path, conn: libvirt.virConnect) -> None:
    clock = Clock()
    faker = StatsFaker(conn, clock=clock)
    collector = _collector(node, clock)
    collector.attach(cast(libvirt.virConnect, faker))
    collector.collect()
    conn.lookupByName("web-1").destroy()
    clock.now += 10
    report = collector.collect()
    assert faker.xml_calls == 5
    assert {v.name: v.state for v in report.vms}["web-1"] == "shutoff"


def test_vanished_domain_is_dropped(node: Path, conn: libvirt.virConnect) -> None:
    clock = Clock()
    collector = _collector(node, clock)
    collector.attach(conn)
    collector.collect()
    dom = conn.lookupByName("batch-1")  # shut off: undefine removes it
    dom.undefine()
    clock.now += 10
    assert "batch-1" not in {v.name for v in collector.collect().vms}


def test_a_declared_power_draw_goes_out_with_the_host(node: Path, conn: libvirt.virConnect) -> None:
    plain = _collector(node, Clock())
    plain.attach(conn)
    assert plain.collect().host.power is None
    config = CollectorConfig(host_name="kvm-01", uri=f"test://{node}",
                             power=Power(idle_w=100.0, max_w=250.0))  # fmt: skip
    declared = Collector(config, clock=Clock(), counters=_counters)
    declared.attach(conn)
    assert declared.collect().host.power == Power(idle_w=100.0, max_w=250.0)
