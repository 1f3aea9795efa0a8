"""The VMs a common CPU makes movable (pure), and a definition given that CPU."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from balancer.core.cpu_baseline import movable_with
from balancer.core.models import GuestCpu
from tests.unit.core.factories import host, snapshot, vm
from workers.agent.cpu_baseline import host_model_cpu, with_cpu

BASELINE = GuestCpu(vendor="Intel", model="IvyBridge", features=("avx",), virt_type="kvm")


def test_only_vms_held_back_now_and_not_with_the_baseline_become_movable() -> None:
    hosts = [host("new", model="Skylake-Server", features=("avx", "avx2", "avx512f")),
             host("old", model="IvyBridge", features=("avx",)),
             host("elsewhere", model="IvyBridge", features=())]  # fmt: skip
    vms = [vm("held", "new", model="Skylake-Server", features=("avx2",)),
           vm("fine", "old", model="IvyBridge", features=("avx",)),
           vm("outside", "elsewhere", model="Skylake-Server", features=("avx2",))]  # fmt: skip
    snap = snapshot(hosts, vms)
    assert movable_with(snap, ["new", "old"], BASELINE) == ["held"]
    # a baseline the older host cannot provide helps nobody
    wide = GuestCpu(vendor="Intel", model="Skylake-Server", features=("avx512f",))
    assert movable_with(snap, ["new", "old"], wide) == []


DOMCAPS = """<domainCapabilities><cpu>
  <mode name='host-passthrough' supported='yes'/>
  <mode name='host-model' supported='yes'>
    <model fallback='forbid'>EPYC-IBPB</model><vendor>AMD</vendor>
    <feature policy='require' name='x2apic'/>
  </mode></cpu></domainCapabilities>"""


def test_host_model_cpu_is_the_mode_as_a_cpu_element() -> None:
    cpu = ET.fromstring(host_model_cpu(DOMCAPS))
    assert cpu.tag == "cpu"
    assert not cpu.attrib
    assert (cpu.findtext("model"), cpu.findtext("vendor")) == ("EPYC-IBPB", "AMD")
    assert [f.get("name") for f in cpu.iter("feature")] == ["x2apic"]


def test_with_cpu_replaces_the_model_and_keeps_the_topology() -> None:
    domain = """<domain type='qemu'><name>g</name><cpu mode='host-model'>
      <model>Westmere</model><topology sockets='1' cores='2' threads='1'/>
      <feature policy='require' name='pclmuldq'/></cpu><devices/></domain>"""
    baseline = "<cpu><model fallback='forbid'>EPYC-IBPB</model><vendor>AMD</vendor></cpu>"
    root = ET.fromstring(with_cpu(domain, baseline))
    [cpu] = root.findall("cpu")
    assert (cpu.get("mode"), cpu.get("check")) == ("custom", "partial")
    assert cpu.findtext("model") == "EPYC-IBPB"
    assert cpu.find("feature") is None
    assert cpu.find("topology") is not None
    assert [c.tag for c in root] == ["name", "cpu", "devices"]
