"""Can the destination run the VM's CPU? Decided as libvirt decides it, for the VM's
domain type (``<domain type>``: kvm, or qemu for TCG), in libvirt's feature names.

- a named CPU (``<cpu mode='custom'>``; a running ``host-model`` guest too: its live
  definition is the CPU it was given, expanded): ``compareHypervisorCPU`` on the
  destination with ``VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE``, whose error names the
  features the destination lacks ("Host CPU does not provide required features: avx512f");
- a shut-off ``host-model`` guest: it takes the destination's host-model when it starts;
  any destination will do;
- ``host-passthrough`` / ``maximum``: the guest sees its host's CPU as it is, so both
  hosts' CPUs (host capabilities: model, vendor, features) must be the same
  (``passthrough_refusal``, pure);
- no ``<cpu>``: QEMU's default model, which every x86 host provides.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from workers.agent.host_caps import CpuDescription, parse_capabilities
from workers.executor.libvirt_calls import translate

PASSTHROUGH_MODES = ("host-passthrough", "maximum")


def passthrough_refusal(source: CpuDescription, dest: CpuDescription, dest_name: str) -> str:
    """Why a host-passthrough guest of ``source`` cannot run on ``dest`` ("" if it can):
    the same model, vendor and features, nothing missing and nothing more."""
    if (dest.model, (dest.vendor or "").lower()) != (source.model, (source.vendor or "").lower()):
        return (f"host-passthrough guest: {dest_name}'s CPU is a {dest.vendor} {dest.model}, "
                f"its host's a {source.vendor} {source.model}")  # fmt: skip
    missing = sorted(set(source.features) - set(dest.features))
    extra = sorted(set(dest.features) - set(source.features))
    if missing:
        return f"host-passthrough guest: {dest_name} lacks CPU features {', '.join(missing)}"
    if extra:
        return (f"host-passthrough guest: {dest_name}'s CPU also has {', '.join(extra)} "
                "(not the same CPU)")  # fmt: skip
    return ""


def guest_cpu_xml(domain_xml: str) -> tuple[str, str | None, str | None, str, str]:
    """``(mode, <cpu> XML or None, arch, machine, domain type)`` of a domain definition."""
    tree = ET.fromstring(domain_xml)
    cpu, os_type = tree.find("cpu"), tree.find("os/type")
    arch = os_type.get("arch") if os_type is not None else None
    machine = os_type.get("machine", "") if os_type is not None else ""
    virt = tree.get("type") or "kvm"
    if cpu is None:
        return "", None, arch, machine, virt
    mode = cpu.get("mode") or ("custom" if cpu.find("model") is not None else "")
    return mode, ET.tostring(cpu, encoding="unicode"), arch, machine, virt


def cpu_refusal(src_conn: Any, dst_conn: Any, dom: Any, dest_name: str) -> str:
    """Why ``dest_name`` (``dst_conn``) cannot run ``dom``'s CPU ("" when it can)."""
    mode, cpu_xml, arch, machine, virt = guest_cpu_xml(dom.XMLDesc(0))
    if mode in PASSTHROUGH_MODES:
        try:
            src = parse_capabilities(src_conn.getCapabilities()).cpu
            dst = parse_capabilities(dst_conn.getCapabilities()).cpu
        except libvirt.libvirtError as exc:
            raise translate(exc, "host CPUs") from exc
        return passthrough_refusal(src, dst, dest_name)
    if cpu_xml is None or (mode == "host-model" and not dom.isActive()):
        return ""  # QEMU's default model, or the destination's own host-model at start
    flag = libvirt.VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE
    try:
        dst_conn.compareHypervisorCPU(None, arch, machine or None, virt, cpu_xml, flag)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_CPU_INCOMPATIBLE:
            return f"{dest_name} cannot run the CPU ({virt} domain): {exc.get_error_message()}"
        raise translate(exc, f"compareHypervisorCPU on {dest_name}") from exc
    return ""
