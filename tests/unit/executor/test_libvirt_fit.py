"""Disks, pools and networks read through libvirt's test driver (no daemon): what the VM
needs on its host, what a host offers, and a move refused for a missing network."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import libvirt
import pytest

from balancer.errors import PreflightError
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.hypervisor import MIGRATION_NAMESPACE
from workers.executor.libvirt_hv import LibvirtHypervisor
from workers.executor.machine import Executor
from workers.executor.order import MigrationOrder
from workers.executor.records import MemoryRecorder

DOMAIN = """<domain type='test'><name>vm1</name><memory>262144</memory><vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='volume' device='disk'><source pool='shared' volume='vm1.img'/>
      <target dev='vda'/></disk>
    <disk type='file' device='disk'><source file='/srv/local/vm1-data.img'/>
      <target dev='vdb'/></disk>
    <disk type='network' device='disk'><source protocol='rbd' name='images/vm1'/>
      <target dev='vdc'/></disk>
    <disk type='file' device='cdrom'><source file='/iso/x.iso'/><target dev='hdc'/></disk>
    <interface type='network'><source network='backup-net'/></interface>
    <interface type='network'><source network='lab-net'/></interface>
    <interface type='bridge'><source bridge='br0'/></interface>
  </devices></domain>"""


def node(networks: tuple[str, ...], pools: tuple[str, ...], domain: str = "") -> str:
    nets = "".join(
        f"<network><name>{n}</name><bridge name='{n[:8]}br'/></network>" for n in networks
    )
    pls = "".join(
        f"<pool type='dir'><name>{p}</name><target><path>/{p}</path></target></pool>" for p in pools
    )
    return f"<node>{nets}{pls}{domain}</node>"


@pytest.fixture
def hv(tmp_path: Path) -> Iterator[LibvirtHypervisor]:
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    a.write_text(node(("lab-net", "backup-net"), ("default", "shared"), DOMAIN))
    b.write_text(node(("lab-net",), ("default", "shared")))
    the_hv = LibvirtHypervisor({"a": f"test://{a}", "b": f"test://{b}"})
    yield the_hv
    the_hv.close()


def test_what_the_vm_needs_and_what_a_host_offers(hv: LibvirtHypervisor) -> None:
    needs = hv.attachments("a", "vm1")
    assert needs.pools == ("shared",)
    assert needs.remote_disks == ("rbd:images",)
    assert needs.unpooled == ("/srv/local/vm1-data.img",)  # the cdrom is not a disk
    assert needs.networks == ("backup-net", "lab-net")  # the bridge is no libvirt network
    offered = hv.resources("b")
    assert offered.pools == ("default", "shared")
    assert offered.networks == ("lab-net",)


def test_a_move_to_a_host_without_the_network_is_refused(hv: LibvirtHypervisor) -> None:
    hv.conn("a").lookupByName("vm1").destroy()  # the test driver has no job info: shut off
    rec = MemoryRecorder()
    client = fakeredis.FakeRedis()
    ex = Executor(hv, Fence(client), Coordinator(client), rec, clock=time.time, sleep=time.sleep)
    order = MigrationOrder(
        vm="vm1", source="a", dest="b", mode="offline", expected_state="shutoff",
        memory_mib=256, shared_pools=("mount:/srv", "rbd:images", "shared"),
    )  # fmt: skip
    with pytest.raises(PreflightError) as err:
        ex.run(order, token="t1")
    assert str(err.value) == "vm1 cannot move to b: network backup-net is not active on b"
    assert hv.domain("a", "vm1") is not None
    assert hv.domain("b", "vm1") is None
    assert [o.result for o in rec.outcomes] == ["failed"]


def test_the_migration_is_marked_in_the_domain_metadata(hv: LibvirtHypervisor) -> None:
    """``mark_migrated`` writes ``<kvmb:migration epoch= id= plan=/>`` live and persistent
    (the test driver supports ``setMetadata``), beside any other metadata."""
    hv.mark_migrated("a", "vm1", epoch=7, migration_id="m-1", plan_id="p-1")
    dom = hv.conn("a").lookupByName("vm1")
    for flags in (libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG):
        xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, MIGRATION_NAMESPACE, flags)
        el = ET.fromstring(xml)
        assert (el.tag, el.attrib) == ("migration", {"epoch": "7", "id": "m-1", "plan": "p-1"})
    found = ET.fromstring(dom.XMLDesc(0)).find(f"metadata/{{{MIGRATION_NAMESPACE}}}migration")
    assert found is not None
    hv.mark_migrated("a", "vm1", epoch=None, migration_id="m-2", plan_id="")  # an operator's
    xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, MIGRATION_NAMESPACE, 0)
    assert ET.fromstring(xml).attrib == {"id": "m-2", "plan": ""}
