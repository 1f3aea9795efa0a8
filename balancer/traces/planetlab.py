"""The PlanetLab reference set-up (Beloglazov & Buyya 2012, CloudSim 3.0.3 examples).

800 hosts alternating HP ML110 G4 (2 × 1860 MIPS) and G5 (2 × 2660 MIPS), 4096 MB each;
VMs of one core in four types by block of the sorted file list (2500/2000/1000/500 MIPS
with 870/1740/1740/613 MB); one CPU % per 300 s step. CPU is expressed in reference
cores of 1000 MIPS (a G4 host is 3.72 cores, a G5 host 5.32), memory MB as MiB.
Migration bandwidth is half of 1 Gbit/s (≈ 62.5 MB/s), as in the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt

from balancer.core.models import (
    CapacityMode,
    Disk,
    GuestCpu,
    Host,
    HostCpu,
    Policy,
    Power,
    Snapshot,
    Versions,
    Vm,
)
from balancer.errors import TraceError
from balancer.traces.trace import Trace, make_trace

STEP_S = 300
STEPS = 288
REFERENCE_MIPS = 1000.0
BANDWIDTH_MIB_S = 62.5
HOSTS = 800


@dataclass(frozen=True)
class HostType:
    name: str
    cores: int
    mips: float
    memory_mib: int
    table_w: tuple[float, ...]

    @property
    def capacity(self) -> float:
        return self.cores * self.mips / REFERENCE_MIPS


@dataclass(frozen=True)
class VmType:
    mips: float
    memory_mib: int


HOST_TYPES = (
    HostType(
        "HP ProLiant ML110 G4",
        2,
        1860.0,
        4096,
        (86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117),
    ),
    HostType(
        "HP ProLiant ML110 G5",
        2,
        2660.0,
        4096,
        (93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135),
    ),
)
VM_TYPES = (VmType(2500, 870), VmType(2000, 1740), VmType(1000, 1740), VmType(500, 613))

FloatMatrix = npt.NDArray[np.float64]


def load_day(day_dir: str | Path) -> tuple[list[str], FloatMatrix]:
    """VM names (file names, sorted) and their CPU % (VMs × 288 steps)."""
    files = sorted(p for p in Path(day_dir).iterdir() if p.is_file())
    if not files:
        raise FileNotFoundError(f"no trace files in {day_dir}")
    rows = [np.loadtxt(f, dtype=np.float64, ndmin=1)[:STEPS] for f in files]
    return [f.name for f in files], np.vstack(rows)


def load_trace(day_dir: str | Path) -> Trace:
    """One day as a ``Trace`` (CPU only): one file per VM, one integer CPU % a line."""
    folder = Path(day_dir)
    if not folder.is_dir():
        raise TraceError(f"{folder} is not a folder of PlanetLab trace files")
    rows: dict[str, tuple[FloatMatrix, FloatMatrix | None]] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            values = np.array(path.read_text().split(), dtype=np.float64)
        except (OSError, ValueError) as exc:
            raise TraceError(f"{path}: not a column of numbers ({exc})") from None
        rows[path.name] = (values[:STEPS], None)
    return make_trace("planetlab", str(folder), rows)


def vm_type(j: int, n_vms: int) -> VmType:
    """CloudSim's ``i / ceil(n / 4)``: the type by block of the sorted file list."""
    return VM_TYPES[j // math.ceil(n_vms / len(VM_TYPES))]


def host_type(i: int) -> HostType:
    return HOST_TYPES[i % len(HOST_TYPES)]


def reference_host(i: int) -> Host:
    t = host_type(i)
    return Host(
        name=f"host-{i}",
        state="active",
        uri=f"qemu+tcp://host-{i}/system",
        cpu=HostCpu(vendor="Intel", model="Conroe", cores=t.cores),
        cpu_capacity=t.capacity,
        memory_mib=t.memory_mib,
        storage_pools=("shared",),
        networks=("br0",),
        versions=Versions(qemu="8.2.0", libvirt="10.0.0"),
        machine_types=("q35",),
        migration_bandwidth_mib_s=BANDWIDTH_MIB_S,
        power=Power(table_w=t.table_w),
        labels={"type": t.name},
    )


def reference_vm(name: str, j: int, n_vms: int, cpu_percent: float, host: str) -> Vm:
    t = vm_type(j, n_vms)
    return Vm(
        name=name,
        host=host,
        state="running",
        vcpus=1,
        cpu_used=cpu_percent / 100.0 * t.mips / REFERENCE_MIPS,
        memory_mib=t.memory_mib,
        cpu=GuestCpu(vendor="Intel", model="Conroe"),
        machine_type="q35",
        disks=(Disk(pool="shared", shared=True),),
        networks=("br0",),
    )


def reference_snapshot(
    day_dir: str | Path,
    step: int = 0,
    capacity_mode: CapacityMode = "cpu+memory",
    headroom: float = 0.0,
    hosts: int = HOSTS,
) -> Snapshot:
    """The reference cluster at ``step``, VM j on host j % ``hosts`` (as the Watcher run)."""
    names, cpu = load_day(day_dir)
    n = len(names)
    host_list = tuple(reference_host(i) for i in range(hosts))
    vms = tuple(
        reference_vm(name, j, n, float(cpu[j, step]), f"host-{j % hosts}")
        for j, name in enumerate(names)
    )
    used = [0.0] * hosts
    mem = [0] * hosts
    for j, vm in enumerate(vms):
        used[j % hosts] += vm.cpu_used
        mem[j % hosts] += vm.memory_mib
    host_list = tuple(_with_usage(h, used[i], mem[i]) for i, h in enumerate(host_list))
    return Snapshot(
        version=1,
        taken_at=float(step * STEP_S),
        generation=step,
        hosts=host_list,
        vms=vms,
        policy=Policy(
            objective="consolidate",
            headroom=headroom,
            capacity_mode=capacity_mode,
            cooldown_s=0.0,
        ),
    )


def _with_usage(h: Host, cpu: float, mem: int) -> Host:
    return msgspec.structs.replace(h, cpu_used=cpu, memory_used_mib=mem)
