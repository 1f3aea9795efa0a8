"""The simulated hosts and VMs (pure): the PlanetLab reference's types, made alike so the
planner may move any VM between any two hosts that are on.

Hosts alternate the reference's HP ML110 G4 and G5 (``balancer.traces.planetlab``), each
``scale`` reference hosts in one (cores, CPU capacity, memory and watts times ``scale``),
with the same CPU (Intel Conroe), shared storage pool, bridge, machine type and versions,
and a ``qemu+tcp://<host>/system`` URI. VMs are the reference's four types by block of
their index (one vCPU, 2500/2000/1000/500 MIPS, 870/1740/1740/613 MiB), each following a
trace row chosen with the seed: every row once before any repeats, a repeated row shifted
by a random offset so VMs sharing a row do not move in step.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from balancer.core.models import Disk, GuestCpu, Host, Power, Vm
from balancer.fleet.config import AUTO_FILL, FleetConfig
from balancer.traces import planetlab

#: Where every simulated VM's disk lives and the bridge every VM is on.
POOL = "shared"
NETWORK = "br0"
#: A VM's non-zero memory is this share of its memory (drawn with the seed).
NONZERO_SHARE = (0.3, 0.9)
#: Writable working set: the most one pre-copy round can find dirtied again.
WORKING_SET_SHARE = 0.25


class VmFacts(msgspec.Struct, frozen=True, array_like=True):
    """A simulated VM's fixed facts (``Keys.sim_vms``, compact JSON arrays)."""

    name: str
    memory_mib: int
    #: Cores it uses at 100 % of its trace.
    size_cores: float
    row: int
    #: Trace samples its row is shifted by.
    offset: float
    nonzero_mib: float
    working_set_mib: float
    #: Dirties memory faster than the link sends it (``FleetConfig.hot_factor``).
    hot: bool = False


def host_name(i: int, hosts: int) -> str:
    return f"host-{i:0{len(str(hosts - 1))}d}"


def vm_name(j: int, vms: int) -> str:
    return f"vm-{j:0{len(str(vms - 1))}d}"


def mean_vm_memory_mib(vms: int) -> float:
    return sum(planetlab.vm_type(j, vms).memory_mib for j in range(vms)) / vms


def auto_scale(config: FleetConfig) -> int:
    """The smallest scale at which the hosts hold the VMs with memory ``AUTO_FILL`` full."""
    if config.host_scale is not None:
        return config.host_scale
    need = config.vms * mean_vm_memory_mib(config.vms)
    per_host = AUTO_FILL * planetlab.HOST_TYPES[0].memory_mib
    return max(1, math.ceil(need / (config.hosts * per_host)))


def build_host(i: int, config: FleetConfig, scale: int) -> Host:
    ref = planetlab.reference_host(i)
    name = host_name(i, config.hosts)
    table = ref.power.table_w if ref.power is not None else None
    return msgspec.structs.replace(
        ref,
        name=name,
        uri=f"qemu+tcp://{name}/system",
        cpu=msgspec.structs.replace(ref.cpu, cores=ref.cpu.cores * scale),
        cpu_capacity=ref.cpu_capacity_cores * scale,
        memory_mib=round(ref.memory_mib * scale * config.memory_scale),
        storage_pools=(POOL,),
        networks=(NETWORK,),
        migration_bandwidth_mib_s=config.bandwidth_mib_s,
        power=Power(table_w=tuple(w * scale for w in table)) if table else None,
        labels={"type": planetlab.host_type(i).name, "fleet": "sim"},
    )


def build_hosts(config: FleetConfig, scale: int) -> tuple[Host, ...]:
    return tuple(build_host(i, config, scale) for i in range(config.hosts))


def trace_rows(config: FleetConfig, rows: int, steps: int) -> tuple[list[int], list[float]]:
    """Each VM's trace row and offset: permutations of the rows, offsets for repeats."""
    rng = np.random.default_rng(config.seed)
    picked: list[int] = []
    offsets: list[float] = []
    while len(picked) < config.vms:
        first = not picked
        perm = rng.permutation(rows)[: config.vms - len(picked)]
        picked += perm.tolist()
        shift = np.zeros(len(perm)) if first else rng.uniform(0, steps, len(perm))
        offsets += shift.tolist()
    return picked, offsets


def build_vms(config: FleetConfig, rows: int, steps: int) -> tuple[VmFacts, ...]:
    picked, offsets = trace_rows(config, rows, steps)
    rng = np.random.default_rng([config.seed, 1])
    share = rng.uniform(*NONZERO_SHARE, config.vms)
    hot = set(rng.choice(config.vms, config.hot_vms, replace=False).tolist())
    out = []
    for j in range(config.vms):
        t = planetlab.vm_type(j, config.vms)
        out.append(
            VmFacts(
                name=vm_name(j, config.vms),
                memory_mib=t.memory_mib,
                size_cores=t.mips / planetlab.REFERENCE_MIPS,
                row=picked[j],
                offset=round(offsets[j], 3),
                nonzero_mib=round(float(share[j]) * t.memory_mib, 1),
                working_set_mib=round(WORKING_SET_SHARE * t.memory_mib, 1),
                hot=j in hot,
            )
        )
    return tuple(out)


def vm_struct(facts: VmFacts, host: str) -> Vm:
    """The VM as a report shows it, idle (the fleet sets its load each round)."""
    return Vm(
        name=facts.name,
        host=host,
        state="running",
        vcpus=1,
        memory_mib=facts.memory_mib,
        cpu=GuestCpu(vendor="Intel", model="Conroe"),
        machine_type="q35",
        disks=(Disk(pool=POOL, shared=True),),
        networks=(NETWORK,),
    )
