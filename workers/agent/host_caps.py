"""Host CPU, machine types and NUMA cells from libvirt's capability documents (pure).

- domain capabilities (``virConnectGetDomainCapabilities``): the host-model CPU a guest
  gets (vendor, model, extra features) and the CPU models usable for guests;
- a baseline CPU with ``VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES``: every feature of
  that CPU, expanded (the snapshot lists all features, not only those beyond the model);
- host capabilities (``virConnectGetCapabilities``): NUMA cells, the machine types QEMU
  offers for the arch, the host CPU (what a host-passthrough guest sees, and a fallback),
  and the domain types the arch can run (``kvm``, ``qemu``: each has its own domain
  capabilities, so the agent reads them for every type).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from balancer.core.filters.cpu_model import LINEAGE, base_model

_VENDORS = {"intel": "Intel", "amd": "AMD"}
_LINE_OF = {m.lower(): line for line, models in LINEAGE.items() for m in models}


@dataclass(frozen=True, slots=True)
class CpuDescription:
    vendor: str | None
    model: str | None
    features: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DomainCaps:
    host_model: CpuDescription | None
    #: None when the hypervisor does not say (the core then judges by CPU generations).
    usable_models: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class HostCaps:
    arch: str
    numa_cells: int
    machine_types: tuple[str, ...]
    cpu: CpuDescription
    kvm: bool
    #: Domain types the host can run guests of the arch as (``kvm``, ``qemu``), sorted.
    virt_types: tuple[str, ...] = ()


def vendor_of_model(model: str | None) -> str | None:
    """``Skylake-Client-IBRS`` → ``Intel``; None for generic or unknown models."""
    if not model:
        return None
    line = _LINE_OF.get(base_model(model))
    return _VENDORS.get(line) if line else None


def parse_cpu(el: ET.Element | None) -> CpuDescription:
    if el is None:
        return CpuDescription(None, None, ())
    model = (el.findtext("model") or "").strip() or None
    vendor = (el.findtext("vendor") or "").strip() or None
    features = tuple(
        sorted(
            f.get("name", "")
            for f in el.findall("feature")
            if f.get("policy", "require") in ("require", "force") and f.get("name")
        )
    )
    return CpuDescription(vendor, model, features)


def parse_cpu_xml(xml: str) -> CpuDescription:
    """A ``<cpu>`` document, e.g. what ``baselineHypervisorCPU`` returns."""
    return parse_cpu(ET.fromstring(xml))


def parse_domain_capabilities(xml: str) -> DomainCaps:
    root = ET.fromstring(xml)
    host_model: CpuDescription | None = None
    usable: tuple[str, ...] | None = None
    for mode in root.findall("cpu/mode"):
        if mode.get("supported") != "yes":
            continue
        name = mode.get("name")
        if name == "host-model":
            host_model = parse_cpu(mode)
        elif name == "custom":
            usable = tuple(
                (m.text or "").strip()
                for m in mode.findall("model")
                if m.get("usable") == "yes" and (m.text or "").strip()
            )
    return DomainCaps(host_model, usable)


def host_model_xml(cpu: CpuDescription, arch: str) -> str:
    """The host-model CPU as a ``<cpu>`` document for baselining (feature expansion)."""
    root = ET.Element("cpu")  # a host CPU: no mode (baselineCPU refuses one)
    ET.SubElement(root, "arch").text = arch
    if cpu.model:
        ET.SubElement(root, "model", fallback="forbid").text = cpu.model
    if cpu.vendor:
        ET.SubElement(root, "vendor").text = cpu.vendor
    for name in cpu.features:
        ET.SubElement(root, "feature", policy="require", name=name)
    return ET.tostring(root, encoding="unicode")


def parse_capabilities(xml: str, arch: str | None = None) -> HostCaps:
    """``arch``: the guest architecture to report machine types for (default: the host's)."""
    root = ET.fromstring(xml)
    host_cpu = root.find("host/cpu")
    host_arch = (root.findtext("host/cpu/arch") or "").strip()
    want = arch or host_arch
    cells = root.find("host/topology/cells")
    numa = int(cells.get("num", "0")) if cells is not None else 0
    machines: set[str] = set()
    types: set[str] = set()
    for guest in root.findall("guest"):
        arch_el = guest.find("arch")
        if arch_el is None or arch_el.get("name") != want:
            continue
        for m in arch_el.iter("machine"):
            if (m.text or "").strip():
                machines.add((m.text or "").strip())
            if m.get("canonical"):
                machines.add(m.get("canonical", ""))
        types |= {d.get("type", "") for d in arch_el.findall("domain")} - {""}
    return HostCaps(
        arch=want,
        numa_cells=max(1, numa),
        machine_types=tuple(sorted(machines)),
        cpu=parse_cpu(host_cpu),
        kvm="kvm" in types,
        virt_types=tuple(sorted(types)),
    )
