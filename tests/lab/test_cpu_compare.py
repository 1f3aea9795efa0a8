"""compareHypervisorCPU: what TCG can provide (the lab guests' CPU) and what it cannot."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import libvirt
import pytest

from balancer.lab.domain_xml import cpu_xml
from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory

pytestmark = pytest.mark.lab
ACCEPTED = (libvirt.VIR_CPU_COMPARE_IDENTICAL, libvirt.VIR_CPU_COMPARE_SUPERSET)
IMPOSSIBLE = {
    "a model TCG cannot emulate": cpu_xml("EPYC-Rome"),
    "a feature TCG lacks": cpu_xml("Westmere", ("avx512f",)),
}


def compare(conn: Any, cpu: str, flags: int = 0) -> int:
    return int(conn.compareHypervisorCPU(None, "x86_64", "q35", "qemu", cpu, flags))


def test_accepts_the_lab_guests_own_cpu(lab: Lab, lab_guests: GuestFactory) -> None:
    guest = lab_guests.add("lab-a", start=False)
    xml = lab.conn("lab-a").lookupByName(guest.name).XMLDesc(0)
    element = ET.fromstring(xml).find("cpu")
    assert element is not None
    cpu = ET.tostring(element, encoding="unicode")
    assert "Westmere" in cpu
    for host in ("lab-a", "lab-b"):
        assert compare(lab.conn(host), cpu) in ACCEPTED


@pytest.mark.parametrize("what", sorted(IMPOSSIBLE))
def test_rejects_a_cpu_the_hypervisor_cannot_provide(lab: Lab, what: str) -> None:
    conn = lab.conn("lab-b")
    assert compare(conn, IMPOSSIBLE[what]) == libvirt.VIR_CPU_COMPARE_INCOMPATIBLE
    with pytest.raises(libvirt.libvirtError):
        compare(conn, IMPOSSIBLE[what], libvirt.VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE)


def test_a_guest_asking_for_such_a_cpu_does_not_start(lab: Lab, lab_guests: GuestFactory) -> None:
    guest = lab_guests.add("lab-a", start=False, cpu_features=("avx512f",))
    with pytest.raises(libvirt.libvirtError):
        lab.conn("lab-a").lookupByName(guest.name).create()
