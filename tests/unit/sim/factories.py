"""Builders for the simulator's tests: reference hosts (host i of type i % 2: HP G4, 3.72
cores, or G5, 5.32 cores) carrying VMs of given CPU demand, and the shared traces."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import msgspec
import numpy as np
import pytest

from balancer.core.models import Host, Policy, Snapshot, Vm
from balancer.sim.workload import Workload, reference_workload
from balancer.traces.paths import shared_data_dir
from balancer.traces.planetlab import load_trace, reference_host, reference_vm

G4_CORES = 3.72
G5_CORES = 5.32
DAY = "20110303"


def vm(name: str, host: str, cores: float, memory_mib: int = 870) -> Vm:
    base = reference_vm(name, 0, 4, 0.0, host)
    return msgspec.structs.replace(base, cpu_used=cores, memory_mib=memory_mib)


def snapshot(
    loads: dict[int, list[float]],
    hosts: int = 4,
    *,
    now: float = 0.0,
    policy: Policy | None = None,
) -> Snapshot:
    """Reference hosts 0..hosts-1; host i holds one VM per entry of ``loads[i]`` (cores).
    Hosts with VMs are on, the others off (as the simulator shows them)."""
    vms = [
        vm(f"vm-{i}-{k}", f"host-{i}", cores)
        for i, cores_list in sorted(loads.items())
        for k, cores in enumerate(cores_list)
    ]
    host_list: list[Host] = []
    for i in range(hosts):
        used = sum(loads.get(i, []))
        state = "active" if loads.get(i) else "off"
        host_list.append(msgspec.structs.replace(reference_host(i), state=state, cpu_used=used))
    return Snapshot(
        version=1,
        taken_at=now,
        generation=0,
        hosts=tuple(host_list),
        vms=tuple(vms),
        policy=policy or Policy(capacity_mode="cpu-only", cooldown_s=0.0),
    )


def steady_history(snap: Snapshot, samples: int = 12) -> np.ndarray:
    """Each VM's history: its current demand, unchanged for ``samples`` samples."""
    now = np.array([v.cpu_used for v in snap.vms])
    return np.repeat(now[:, None], samples, axis=1)


def day_dir(day: str = DAY) -> Path:
    path = shared_data_dir() / "planetlab" / day
    if not path.is_dir():
        pytest.fail(f"the shared traces are missing: {path}")
    return path


@cache
def day_workload(day: str = DAY) -> Workload:
    return reference_workload(load_trace(day_dir(day)))
