"""``balancer cpu baseline`` on the lab's hosts equals the guide's procedure done with
virsh (12.4: each host's host-model CPU from ``virsh domcapabilities``, the ``<mode>``
tags replaced with ``<cpu>``, then ``virsh hypervisor-cpu-baseline``); ``--apply``
gives a VM that CPU in its persistent definition."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest
from click.testing import CliRunner

from balancer.cli.main import main
from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory

pytestmark = pytest.mark.lab
HOSTS = ("lab-a", "lab-b")


def virsh(uri: str, *args: str) -> str:
    return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def virsh_baseline(lab: Lab, tmp_path: Path) -> ET.Element:
    """The guide's procedure, step by step, with virsh."""
    cpus = []
    for host in HOSTS:
        caps = ET.fromstring(virsh(lab.host(host).uri, "domcapabilities", "--virttype", "qemu"))
        mode = caps.find("cpu/mode[@name='host-model']")
        assert mode is not None
        mode.tag = "cpu"
        mode.attrib.clear()
        cpus.append(ET.tostring(mode, encoding="unicode"))
    path = tmp_path / "domCaps-CPUs.xml"
    path.write_text("\n".join(cpus))
    out = virsh(lab.host("lab-a").uri, "hypervisor-cpu-baseline", str(path), "--virttype", "qemu")
    return ET.fromstring(out)


def test_cpu_baseline_equals_virsh_and_apply_updates_the_definition(
    lab: Lab,
    lab_guests: GuestFactory,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guest = lab_guests.add("lab-a", memory_mib=128, working_set_mib=16, start=False)
    uris = {h: lab.host(h).uri for h in HOSTS}
    runner = CliRunner()
    for host in HOSTS:  # the store learns the VMs as from any fleet: one agent report
        agent = runner.invoke(main, ["agent", "--libvirt-uri", uris[host], "--host-name", host,
                                     "--redis", redis_url, "--once"])  # fmt: skip
        assert agent.exit_code == 0, agent.output
    monkeypatch.setenv("BALANCER_LIBVIRT_URIS", json.dumps(uris))
    cmd = ["cpu", "baseline", *HOSTS, "--redis", redis_url]

    shown = runner.invoke(main, [*cmd, "--json"])
    applied = runner.invoke(main, [*cmd, "--apply", guest.name])
    unknown = runner.invoke(main, [*cmd, "--apply", "no-such-vm"])
    no_host = runner.invoke(main, ["cpu", "baseline", "lab-a", "lab-x", "--redis", redis_url])

    assert shown.exit_code == 0, shown.output
    out = json.loads(shown.output)
    expected = virsh_baseline(lab, tmp_path)
    assert out["model"] == expected.findtext("model")
    assert out["vendor"] == expected.findtext("vendor")
    required = sorted(f.get("name", "") for f in expected.iter("feature")
                      if f.get("policy") == "require")  # fmt: skip
    assert sorted(out["features"]) == required
    assert ET.fromstring(out["xml"]).findtext("model") == out["model"]
    assert out["movable_vms"] == []  # the lab's hosts are alike: no VM is held back

    assert applied.exit_code == 0, applied.output
    assert f"{guest.name}: persistent definition on lab-a updated" in applied.output
    assert "effective when it next starts" in applied.output
    dom = lab.conn("lab-a").lookupByName(guest.name)
    cpu = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).find("cpu")
    assert cpu is not None
    assert (cpu.get("mode"), cpu.findtext("model")) == ("custom", out["model"])
    assert sorted(f.get("name", "") for f in cpu.iter("feature")
                  if f.get("policy") == "require") == required  # fmt: skip
    dom.create()  # libvirt starts it with that CPU on this host
    assert dom.isActive()

    assert unknown.exit_code == 2
    assert "no-such-vm" in unknown.output
    assert no_host.exit_code == 2
    assert "no URI for lab-x" in no_host.output
