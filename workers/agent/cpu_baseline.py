"""The guide's 12.4 procedure on live connections: the hosts' common CPU, and a VM's
persistent definition given it.

    virsh domcapabilities | xmllint --xpath "//cpu/mode[@name='host-model']" -   # each host
    (the <mode> tags replaced with <cpu>, all in one file)
    virsh hypervisor-cpu-baseline domCaps-CPUs.xml                              # one host

``host_model_cpu`` is the first two steps for one host (pure, on its domain
capabilities), ``baseline`` the last, asked of the first host's hypervisor
(``baselineHypervisorCPU``, for the domain type the VMs run as), ``apply`` the
``virsh edit`` step: the VM's persistent definition gets the baseline as its ``<cpu>``
(``check='partial'``: libvirt refuses to start it where that CPU cannot be provided); a
running VM keeps its CPU until its next restart.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import libvirt

from balancer.errors import PermanentError


def host_model_cpu(domcaps_xml: str) -> str:
    """The host-model CPU of a domain capabilities document as a ``<cpu>`` document."""
    mode = ET.fromstring(domcaps_xml).find("cpu/mode[@name='host-model']")
    if mode is None or mode.get("supported") != "yes":
        raise PermanentError("the hypervisor offers no host-model CPU")
    cpu = ET.Element("cpu")
    cpu.extend(list(mode))
    return ET.tostring(cpu, encoding="unicode")


def baseline(conns: Sequence[Any], virt_type: str, arch: str = "x86_64") -> str:
    """The baseline of the hosts' host-model CPUs (``conns``: one per host; the first
    computes it), as ``virsh hypervisor-cpu-baseline`` prints it."""
    cpus = [host_model_cpu(c.getDomainCapabilities(None, arch, None, virt_type, 0))
            for c in conns]  # fmt: skip
    out: str = conns[0].baselineHypervisorCPU(None, arch, None, virt_type, cpus, 0)
    return out


def definition_cpu(baseline_xml: str) -> ET.Element:
    """The ``<cpu>`` element a VM's definition gets."""
    cpu = ET.fromstring(baseline_xml)
    cpu.set("mode", "custom")
    cpu.set("match", "exact")
    cpu.set("check", "partial")
    return cpu


def with_cpu(domain_xml: str, baseline_xml: str) -> str:
    """``domain_xml`` with its ``<cpu>`` replaced by the baseline (pure)."""
    root = ET.fromstring(domain_xml)
    old = root.find("cpu")
    new = definition_cpu(baseline_xml)
    if old is None:
        root.append(new)
    else:
        # keep what is not the CPU model itself (topology, NUMA cells)
        for child in old:
            if child.tag not in ("model", "vendor", "feature"):
                new.append(child)
        root.insert(list(root).index(old), new)
        root.remove(old)
    return ET.tostring(root, encoding="unicode")


def apply(conn: Any, vm: str, baseline_xml: str) -> bool:
    """Define ``vm`` on ``conn`` with the baseline CPU; whether it runs now (then the new
    CPU takes effect at its next restart)."""
    dom = conn.lookupByName(vm)
    conn.defineXML(with_cpu(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), baseline_xml))
    return bool(dom.isActive())
