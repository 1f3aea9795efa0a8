"""Small reports and snapshots parts for store tests."""

from __future__ import annotations

from balancer.core.models import Disk, GuestCpu, Host, HostCpu, Versions, Vm
from balancer.state.report import HostReport


def host(name: str, **kw: object) -> Host:
    fields: dict[str, object] = {
        "name": name,
        "state": "active",
        "uri": f"qemu+tls://{name}/system",
        "cpu": HostCpu(vendor="Intel", model="Skylake-Client", cores=16),
        "memory_mib": 65536,
        "versions": Versions(qemu="10.0.0", libvirt="11.3.0"),
        "machine_types": ("pc-q35-10.0",),
        "storage_pools": ("shared",),
        "networks": ("prod",),
    }
    fields.update(kw)
    return Host(**fields)  # type: ignore[arg-type]


def vm(name: str, host_name: str, **kw: object) -> Vm:
    fields: dict[str, object] = {
        "name": name,
        "host": host_name,
        "state": "running",
        "vcpus": 2,
        "memory_mib": 2048,
        "cpu_used": 0.5,
        "cpu": GuestCpu(vendor="Intel", model="Skylake-Client"),
        "machine_type": "pc-q35-10.0",
        "disks": (Disk(pool="shared", shared=True),),
        "networks": ("prod",),
    }
    fields.update(kw)
    return Vm(**fields)  # type: ignore[arg-type]


def report(name: str, vm_names: tuple[str, ...] = (), *, at: float = 1000.0,
           ttl_s: float = 30.0, **vm_kw: object) -> HostReport:  # fmt: skip
    return HostReport(
        host=host(name),
        vms=tuple(vm(v, name, **vm_kw) for v in vm_names),
        collected_at=at,
        interval_s=10.0,
        ttl_s=ttl_s,
        seq=1,
        vm_rss_mib=dict.fromkeys(vm_names, 100),
    )
