"""Small builders for snapshots in tests: every field has a sensible default."""

from __future__ import annotations

from typing import Any

from balancer.core.models import (
    Devices,
    Disk,
    GuestCpu,
    Host,
    HostCpu,
    Policy,
    Power,
    Rule,
    Snapshot,
    Versions,
    Vm,
)

NOW = 1_000_000.0


def host(name: str, **kw: Any) -> Host:
    cpu = HostCpu(
        vendor=kw.pop("vendor", "Intel"),
        model=kw.pop("model", "Cascadelake-Server"),
        features=kw.pop("features", ("avx2", "aes", "avx512f")),
        cores=kw.pop("cores", 16),
        models=kw.pop("models", None),
        hypervisors=kw.pop("hypervisors", {}),
        physical=kw.pop("physical", None),
    )
    defaults: dict[str, Any] = {
        "state": "active",
        "uri": f"qemu+tls://{name}/system",
        "memory_mib": 65536,
        "storage_pools": ("shared",),
        "networks": ("br0",),
        "versions": Versions(qemu=kw.pop("qemu", "8.2.0"), libvirt=kw.pop("libvirt", "10.0.0")),
        "machine_types": ("q35",),
        "migration_bandwidth_mib_s": 128.0,
        "power": Power(idle_w=100.0, max_w=300.0),
    }
    defaults.update(kw)
    return Host(name=name, cpu=cpu, **defaults)


def vm(name: str, host: str, **kw: Any) -> Vm:
    cpu = GuestCpu(
        vendor=kw.pop("vendor", "Intel"),
        model=kw.pop("model", "Skylake-Server"),
        features=kw.pop("features", ("avx2",)),
        mode=kw.pop("cpu_mode", "custom"),
        virt_type=kw.pop("virt_type", "kvm"),
    )
    defaults: dict[str, Any] = {
        "state": "running",
        "vcpus": 2,
        "cpu_used": 1.0,
        "memory_mib": 4096,
        "dirty_rate_mib_s": 1.0,
        "machine_type": "q35",
        "disks": (Disk(pool="shared", shared=True, bytes=10 << 30),),
        "networks": ("br0",),
        "devices": Devices(),
    }
    defaults.update(kw)
    return Vm(name=name, host=host, cpu=cpu, **defaults)


def snapshot(
    hosts: list[Host], vms: list[Vm], rules: tuple[Rule, ...] = (), **policy: Any
) -> Snapshot:
    return Snapshot(
        version=1,
        taken_at=NOW,
        generation=1,
        hosts=tuple(hosts),
        vms=tuple(vms),
        rules=rules,
        policy=Policy(**policy),
    )
