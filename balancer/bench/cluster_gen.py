"""Seeded synthetic clusters for benchmarks: realistic mixes of host and VM sizes."""

from __future__ import annotations

import numpy as np

from balancer.core.models import (
    Devices,
    Disk,
    GuestCpu,
    Host,
    HostCpu,
    Objective,
    Policy,
    Power,
    Snapshot,
    Versions,
    Vm,
)

GIB = 1024

#: (cores, memory MiB, idle W, max W)
HOST_SHAPES = (
    (32, 256 * GIB, 160.0, 450.0),
    (48, 384 * GIB, 190.0, 560.0),
    (64, 512 * GIB, 220.0, 700.0),
)
VCPUS = (1, 2, 4, 8)
MEMORY_GIB = (2, 4, 8, 16, 32)
MEMORY_P = (0.2, 0.3, 0.3, 0.15, 0.05)


def generate(
    hosts: int, vms: int, seed: int, objective: Objective = "balance", headroom: float = 0.1
) -> Snapshot:
    """A cluster of ``hosts`` Intel hosts and ``vms`` VMs, placed first-fit at random.

    VMs are skewed across hosts (some hosts run hot) so balancing has work to do; 0.2 %
    have a passthrough device, 0.3 % a local disk, 1 % are NUMA-pinned.
    """
    rng = np.random.default_rng(seed)
    shapes = rng.integers(0, len(HOST_SHAPES), hosts)
    cap_cpu = np.array([HOST_SHAPES[s][0] for s in shapes], dtype=np.float64)
    cap_mem = np.array([HOST_SHAPES[s][1] for s in shapes], dtype=np.float64)
    vcpus = rng.choice(VCPUS, vms)
    mem = rng.choice(MEMORY_GIB, vms, p=MEMORY_P) * GIB
    cpu = vcpus * rng.beta(2, 5, vms)
    weight = rng.gamma(1.5, 1.0, hosts)
    weight /= weight.sum()
    used_cpu = np.zeros(hosts)
    used_mem = np.zeros(hosts)
    where = np.empty(vms, dtype=np.int64)
    order = rng.choice(hosts, size=vms, p=weight)
    for j in range(vms):
        h = int(order[j])
        if used_cpu[h] + cpu[j] > cap_cpu[h] or used_mem[h] + mem[j] > cap_mem[h]:
            free = np.flatnonzero((used_cpu + cpu[j] <= cap_cpu) & (used_mem + mem[j] <= cap_mem))
            if len(free) == 0:
                raise ValueError("cluster too small for the VMs")
            h = int(free[rng.integers(len(free))])
        where[j] = h
        used_cpu[h] += cpu[j]
        used_mem[h] += mem[j]
    host_list = tuple(
        Host(
            name=f"h{i:05d}",
            state="active",
            uri=f"qemu+tls://h{i:05d}/system",
            cpu=HostCpu(
                vendor="Intel",
                model="Cascadelake-Server",
                features=("avx2", "avx512f", "aes"),
                cores=int(cap_cpu[i]),
            ),
            memory_mib=int(cap_mem[i]),
            cpu_used=float(used_cpu[i]),
            memory_used_mib=int(used_mem[i]),
            numa_nodes=2,
            storage_pools=("ceph", "local"),
            networks=("br-prod",),
            versions=Versions(qemu="8.2.0", libvirt="10.0.0"),
            machine_types=("pc-q35-rhel9.4.0",),
            migration_bandwidth_mib_s=1024.0,
            power=Power(idle_w=HOST_SHAPES[shapes[i]][2], max_w=HOST_SHAPES[shapes[i]][3]),
        )
        for i in range(hosts)
    )
    kinds = rng.random(vms)
    vm_list = tuple(
        Vm(
            name=f"vm{j:06d}",
            host=f"h{where[j]:05d}",
            state="running",
            vcpus=int(vcpus[j]),
            cpu_used=float(cpu[j]),
            memory_mib=int(mem[j]),
            dirty_rate_mib_s=float(rng.exponential(20.0)),
            cpu=GuestCpu(vendor="Intel", model="Skylake-Server"),
            machine_type="pc-q35-rhel9.4.0",
            disks=(
                Disk(
                    pool="local" if kinds[j] < 0.003 else "ceph",
                    shared=kinds[j] >= 0.003,
                    bytes=20 * GIB * GIB,
                ),
            ),
            networks=("br-prod",),
            devices=Devices(hostdev=1 if 0.003 <= kinds[j] < 0.005 else 0),
            numa_pinned=bool(0.005 <= kinds[j] < 0.015),
        )
        for j in range(vms)
    )
    return Snapshot(
        version=1,
        taken_at=1_700_000_000.0,
        generation=seed,
        hosts=host_list,
        vms=vm_list,
        policy=Policy(objective=objective, headroom=headroom),
    )
