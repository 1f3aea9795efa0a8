"""Migratability facts from a domain's XML (pure: a string in, ``DomainFacts`` out).

What decides where a VM may go: its CPU model and required features, machine type,
disks (and so pools), networks, passthrough devices (``<hostdev>``, SR-IOV as
``<interface type='hostdev'>``, mediated devices), NUMA pinning (``<numatune>``,
``<vcpupin>``, ``<emulatorpin>``, ``<vcpu cpuset=...>``) and our metadata (critical,
labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from balancer.core.models import Devices
from workers.agent.metadata import parse_metadata

#: Features a guest needs; 'optional', 'disable' and 'forbid' ones it does not.
_REQUIRED_POLICIES = frozenset({"require", "force"})
_UNIT_KIB = {
    "b": 1 / 1024,
    "bytes": 1 / 1024,
    "kb": 1000 / 1024,
    "k": 1,
    "kib": 1,
    "mb": 1000**2 / 1024,
    "m": 1024,
    "mib": 1024,
    "gb": 1000**3 / 1024,
    "g": 1024**2,
    "gib": 1024**2,
    "tb": 1000**4 / 1024,
    "t": 1024**3,
    "tib": 1024**3,
}
_PASSTHROUGH_HOSTDEV = frozenset({"pci", "usb", "scsi", "scsi_host"})
UNKNOWN_MACHINE = "unknown"


@dataclass(frozen=True, slots=True)
class DiskRef:
    """A disk as the XML names it; ``storage.resolve_disk`` turns it into a pool."""

    kind: str  # file | block | volume | network | dir
    source: str  # a path, a volume name, or a network image name
    pool: str = ""  # <source pool=...> of a volume disk
    protocol: str = ""  # rbd, gluster, iscsi, nbd, ... of a network disk
    target: str = ""


@dataclass(frozen=True, slots=True)
class DomainFacts:
    name: str
    uuid: str
    vcpus: int
    memory_mib: int
    #: custom, host-model, host-passthrough, maximum, or "" (no <cpu>: the default model).
    cpu_mode: str
    cpu_model: str | None
    cpu_vendor: str | None
    cpu_features: tuple[str, ...]
    machine_type: str
    disks: tuple[DiskRef, ...]
    networks: tuple[str, ...]
    devices: Devices
    numa_pinned: bool
    critical: bool
    labels: dict[str, str] = field(default_factory=dict)
    #: ``<domain type>``: kvm, qemu (TCG), …
    virt_type: str = "kvm"


def _kib(el: ET.Element | None) -> int:
    if el is None or not (el.text or "").strip():
        return 0
    return int(int(el.text or "0") * _UNIT_KIB.get(el.get("unit", "KiB").lower(), 1))


def _text(el: ET.Element | None) -> str | None:
    text = (el.text or "").strip() if el is not None else ""
    return text or None


def _cpu(root: ET.Element) -> tuple[str, str | None, str | None, tuple[str, ...]]:
    cpu = root.find("cpu")
    if cpu is None:
        return "", None, None, ()
    model = _text(cpu.find("model"))
    vendor = _text(cpu.find("vendor"))
    mode = cpu.get("mode") or ("custom" if model else "")
    features = tuple(
        sorted(
            f.get("name", "")
            for f in cpu.findall("feature")
            if f.get("policy", "require") in _REQUIRED_POLICIES and f.get("name")
        )
    )
    return mode, model, vendor, features


def _disks(devices: ET.Element) -> tuple[DiskRef, ...]:
    disks: list[DiskRef] = []
    for disk in devices.iter("disk"):
        if disk.get("device", "disk") not in ("disk", "lun"):
            continue  # cdrom and floppy media are not migrated state
        src = disk.find("source")
        if src is None:
            continue
        kind = disk.get("type", "file")
        target_el = disk.find("target")
        target = target_el.get("dev", "") if target_el is not None else ""
        if kind == "volume":
            disks.append(
                DiskRef(kind, src.get("volume", ""), pool=src.get("pool", ""), target=target)
            )
        elif kind == "network":
            disks.append(
                DiskRef(kind, src.get("name", ""), protocol=src.get("protocol", ""), target=target)
            )
        else:
            path = src.get("file") or src.get("dev") or src.get("dir") or ""
            if path:
                disks.append(DiskRef(kind, path, target=target))
    return tuple(disks)


def _networks_and_devices(devices: ET.Element) -> tuple[tuple[str, ...], Devices]:
    networks: set[str] = set()
    sriov = hostdev = mdev = 0
    for iface in devices.iter("interface"):
        kind = iface.get("type", "")
        src = iface.find("source")
        if kind == "hostdev":
            sriov += 1
        elif src is not None:
            name = {
                "network": src.get("network"),
                "bridge": src.get("bridge"),
                "direct": src.get("dev"),
            }.get(kind)
            if name:
                networks.add(name)
    for dev in devices.iter("hostdev"):
        if dev.get("type") == "mdev":
            mdev += 1
        elif dev.get("mode", "subsystem") == "capabilities" or (
            dev.get("type", "") in _PASSTHROUGH_HOSTDEV
        ):
            hostdev += 1
    return tuple(sorted(networks)), Devices(hostdev=hostdev, sriov=sriov, mdev=mdev)


def _numa_pinned(root: ET.Element) -> bool:
    numatune = root.find("numatune")
    if numatune is not None and (
        numatune.find("memnode") is not None
        or any(m.get("nodeset") for m in numatune.iter("memory"))
    ):
        return True
    cputune = root.find("cputune")
    if cputune is not None and (
        cputune.find("vcpupin") is not None or cputune.find("emulatorpin") is not None
    ):
        return True
    vcpu = root.find("vcpu")
    return vcpu is not None and bool(vcpu.get("cpuset"))


def parse_domain_xml(xml: str) -> DomainFacts:
    root = ET.fromstring(xml)
    vcpu = root.find("vcpu")
    vcpus = int(vcpu.get("current") or vcpu.text or 1) if vcpu is not None else 1
    memory_kib = _kib(root.find("currentMemory")) or _kib(root.find("memory"))
    os_type = root.find("os/type")
    machine = os_type.get("machine", "") if os_type is not None else ""
    mode, model, vendor, features = _cpu(root)
    devices = root.find("devices")
    disks = _disks(devices) if devices is not None else ()
    networks, devs = _networks_and_devices(devices) if devices is not None else ((), Devices())
    critical, labels = parse_metadata(root.find("metadata"))
    return DomainFacts(
        name=root.findtext("name", ""),
        uuid=root.findtext("uuid", ""),
        vcpus=max(1, vcpus),
        memory_mib=max(1, memory_kib // 1024),
        cpu_mode=mode,
        cpu_model=model,
        cpu_vendor=vendor,
        cpu_features=features,
        machine_type=machine or UNKNOWN_MACHINE,
        disks=disks,
        networks=networks,
        devices=devs,
        numa_pinned=_numa_pinned(root),
        critical=critical,
        labels=labels,
        virt_type=root.get("type") or "kvm",
    )
