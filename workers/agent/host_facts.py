"""The host's slow-changing facts from libvirt (and, for a local daemon, the machine):
CPU (for each domain type the host runs — ``kvm``, ``qemu`` —: its host-model, every
feature, usable guest models; and the host's own CPU), versions, machine types, NUMA
cells, networks, storage pools and whether each is shared. Read at connect and then every
few minutes, not every interval.

A guest is judged by the domain type it runs as: a TCG (``qemu``) guest by what TCG
offers, which is not what KVM offers on the same host.

A fact the driver cannot give is left at a safe default and named in ``skipped``; a
connection that is gone raises (the agent reconnects).
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import libvirt
import psutil

from balancer.core.models import HypervisorCpu, PhysicalCpu, Versions
from workers.agent.connection import is_connection_lost
from workers.agent.host_caps import (
    CpuDescription,
    HostCaps,
    host_model_xml,
    parse_capabilities,
    parse_cpu_xml,
    parse_domain_capabilities,
    vendor_of_model,
)
from workers.agent.storage import Mount, PoolInfo, parse_pool_xml, shared_mount_pools

log = logging.getLogger(__name__)
T = TypeVar("T")
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class HostFacts:
    arch: str
    cpu_vendor: str
    cpu_model: str
    cpu_features: tuple[str, ...]
    cpu_models: tuple[str, ...] | None
    #: Per domain type the host runs: its host-model CPU (expanded) and usable models.
    hypervisors: dict[str, HypervisorCpu]
    #: The host's own CPU (host capabilities), for host-passthrough guests.
    physical: PhysicalCpu | None
    numa_nodes: int
    machine_types: tuple[str, ...]
    networks: tuple[str, ...]
    pools: tuple[PoolInfo, ...]
    mounts: tuple[Mount, ...]
    #: Pool names to advertise: libvirt pools plus shared mounts (``mount:<point>``).
    pool_names: tuple[str, ...]
    versions: Versions
    skipped: tuple[str, ...]


def is_local_uri(uri: str) -> bool:
    """A daemon on this machine (no host in the URI), and not the fake test driver."""
    parts = urlsplit(uri)
    return not parts.netloc and not parts.scheme.startswith("test")


def version_string(v: int) -> str:
    """libvirt's ``major * 1,000,000 + minor * 1,000 + micro`` → ``"major.minor.micro"``."""
    return f"{v // 1_000_000}.{v // 1000 % 1000}.{v % 1000}"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def local_networks(sys_class_net: Path = Path("/sys/class/net")) -> tuple[str, ...]:
    """Bridges and physical NICs of this machine (what ``bridge``/``direct`` guests use)."""
    try:
        names = [
            p.name
            for p in sys_class_net.iterdir()
            if (p / "bridge").exists() or (p / "device").exists()
        ]
    except OSError:
        return ()
    return tuple(sorted(names))


def _mounts() -> tuple[Mount, ...]:
    return tuple(Mount(p.mountpoint, p.fstype) for p in psutil.disk_partitions(all=True))


class _Probe:
    """Calls that may be unsupported: record what was skipped, re-raise a lost connection."""

    def __init__(self, conn: libvirt.virConnect) -> None:
        self.conn = conn
        self.skipped: list[str] = []

    def __call__(self, what: str, call: Callable[[], T], *, record: bool = True) -> T | None:
        try:
            return call()
        except libvirt.libvirtError as exc:
            if is_connection_lost(exc, self.conn):
                raise
            log.debug("skipped %s: %s", what, exc.get_error_message())
            if record:
                self.skipped.append(f"{what}: {exc.get_error_message()}")
            return None


def _expanded_cpu(probe: _Probe, cpu: CpuDescription, arch: str, virt: str) -> CpuDescription:
    """Every feature of ``cpu``: from the hypervisor's baseline, else libvirt's CPU map."""
    if not cpu.model:
        return cpu
    xml = host_model_xml(cpu, arch)
    flag = libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES
    conn = probe.conn
    out = probe(
        "CPU feature expansion (baselineHypervisorCPU)",
        lambda: conn.baselineHypervisorCPU(None, arch, None, virt, [xml], flag),
        record=False,
    )
    if out is None:
        out = probe("CPU feature expansion", lambda: conn.baselineCPU([xml], flag))
    if out is None:
        return cpu
    expanded = parse_cpu_xml(out)
    return CpuDescription(
        vendor=expanded.vendor or cpu.vendor,
        model=cpu.model,
        features=tuple(sorted(set(expanded.features) | set(cpu.features))),
    )


def _offer(
    probe: _Probe, caps: HostCaps, virt: str, node_model: str | None
) -> tuple[CpuDescription, tuple[str, ...] | None]:
    """The host-model CPU domains of type ``virt`` get here (every feature) and the
    named models usable with that type (``None``: not said)."""
    conn = probe.conn
    domcaps_xml = probe(
        f"domain capabilities ({virt})",
        lambda: conn.getDomainCapabilities(None, caps.arch or None, None, virt, 0),
    )
    domcaps = parse_domain_capabilities(domcaps_xml) if domcaps_xml else None
    cpu = domcaps.host_model if domcaps and domcaps.host_model else caps.cpu
    if not cpu.model:
        cpu = CpuDescription(cpu.vendor, node_model, cpu.features)
        probe.skipped.append(f"host-model CPU ({virt}): not offered; using the node's CPU model")
    cpu = _expanded_cpu(probe, cpu, caps.arch or "x86_64", virt)
    return cpu, domcaps.usable_models if domcaps else None


def read_host_facts(
    conn: libvirt.virConnect,
    uri: str,
    virt_type: str = "auto",
    shared_pools: frozenset[str] = frozenset(),
) -> HostFacts:
    """``virt_type``: the domain type whose CPU fills the host's default CPU fields
    (``auto``: kvm when the host has it); every type the host runs is read either way.
    ``shared_pools``: pools the operator declares shared (say, a ``dir`` pool on a
    cluster filesystem the mount table does not reveal)."""
    probe = _Probe(conn)
    local = is_local_uri(uri)
    caps = parse_capabilities(conn.getCapabilities())
    virt = ("kvm" if caps.kvm else "qemu") if virt_type == "auto" else virt_type
    node_model = str(conn.getInfo()[0]) or None
    offers: dict[str, tuple[CpuDescription, tuple[str, ...] | None]] = {}
    for kind in sorted(set(caps.virt_types) | {virt}):
        offers[kind] = _offer(probe, caps, kind, node_model)
    cpu, usable = offers[virt]
    hypervisors = {
        kind: HypervisorCpu(
            vendor=c.vendor or vendor_of_model(c.model) or UNKNOWN,
            model=c.model or UNKNOWN,
            features=c.features,
            models=models,
        )
        for kind, (c, models) in offers.items()
        if kind in caps.virt_types or not caps.virt_types
    }
    own = caps.cpu
    physical = (
        PhysicalCpu(vendor=own.vendor, model=own.model, features=own.features)
        if own.vendor and own.model
        else None
    )
    vendor = cpu.vendor or vendor_of_model(cpu.model) or UNKNOWN
    mounts = _mounts() if local else ()
    pools: list[PoolInfo] = []
    for pool in (
        probe(
            "storage pools",
            lambda: conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE),
        )
        or ()
    ):
        xml = probe(f"storage pool {pool.name()}", partial(pool.XMLDesc, 0))
        if xml:
            info = parse_pool_xml(xml, mounts)
            pools.append(replace(info, shared=True) if info.name in shared_pools else info)
    nets = (
        probe("networks", lambda: conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE))
        or ()
    )
    networks = {n.name() for n in nets} | (set(local_networks()) if local else set())
    qemu = probe("hypervisor version", conn.getVersion)
    names = {p.name for p in pools} | set(shared_mount_pools(mounts))
    return HostFacts(
        arch=caps.arch,
        cpu_vendor=vendor,
        cpu_model=cpu.model or UNKNOWN,
        cpu_features=cpu.features,
        cpu_models=usable,
        hypervisors=hypervisors,
        physical=physical,
        numa_nodes=caps.numa_cells,
        machine_types=caps.machine_types,
        networks=tuple(sorted(networks)),
        pools=tuple(pools),
        mounts=mounts,
        pool_names=tuple(sorted(names)),
        versions=Versions(
            qemu=version_string(qemu) if qemu else UNKNOWN,
            libvirt=version_string(conn.getLibVersion()),
            kernel=platform.release() if local else "",
            os=_os_name() if local else "",
        ),
        skipped=tuple(probe.skipped),
    )
