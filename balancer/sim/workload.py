"""What a replay runs on: hosts, VMs with their sizes, and each VM's demand per step.

A *set-up* turns a trace (percentages) into a workload (cores, MiB). ``reference`` is
the PlanetLab experiment of Beloglazov & Buyya (``balancer.traces.planetlab``): 800
hosts alternating HP ML110 G4 and G5 (host i of type i % 2, named ``host-<i>``), VMs of
four types by block of the sorted names; it serves the GCD and Bitbrains traces too.
``snapshot_workload`` replays a trace on a cluster of one's own instead: its hosts, its
VMs where they are, each VM following a trace row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancer.core.models import Host, Snapshot, Vm
from balancer.errors import InputError
from balancer.traces import planetlab
from balancer.traces.trace import FloatMatrix, Trace


@dataclass(frozen=True)
class Workload:
    hosts: tuple[Host, ...]
    #: VM specifications in the trace's order (their ``host`` is set when placed).
    vms: tuple[Vm, ...]
    #: Cores each VM demands, VMs x steps (read-only).
    cpu: FloatMatrix
    #: MiB each VM uses, VMs x steps, when the trace has memory; else ``None``.
    memory_used: FloatMatrix | None
    step_s: float
    label: str
    #: Where each VM starts (host index); ``None``: the replay places them.
    placement: npt.NDArray[np.int64] | None = None
    #: Each VM's full size (cores): what it asks for when created (CloudSim's MIPS);
    #: ``None``: its vCPUs.
    size_cores: npt.NDArray[np.float64] | None = None

    @property
    def steps(self) -> int:
        return int(self.cpu.shape[1])


def reference_workload(trace: Trace, hosts: int = planetlab.HOSTS) -> Workload:
    n = len(trace.names)
    vms = tuple(
        planetlab.reference_vm(name, j, n, 0.0, "host-0") for j, name in enumerate(trace.names)
    )
    mips = np.array([planetlab.vm_type(j, n).mips for j in range(n)], dtype=np.float64)
    cpu = trace.cpu_pct / 100.0 * (mips / planetlab.REFERENCE_MIPS)[:, None]
    cpu.setflags(write=False)
    memory_used = None
    if trace.mem_pct is not None:
        ram = np.array([float(vm.memory_mib) for vm in vms])
        memory_used = trace.mem_pct / 100.0 * ram[:, None]
        memory_used.setflags(write=False)
    return Workload(
        hosts=tuple(planetlab.reference_host(i) for i in range(hosts)),
        vms=vms,
        cpu=cpu,
        memory_used=memory_used,
        step_s=trace.step_s,
        label=f"{trace.kind} {trace.source}",
        size_cores=mips / planetlab.REFERENCE_MIPS,
    )


def snapshot_workload(trace: Trace, snapshot: Snapshot) -> Workload:
    """The snapshot's hosts and VMs, VMs starting where they are (hosts are then on or off
    as the replay fills them). VM ``v`` follows the trace row of the same name, or, when
    the names differ from the trace's, row ``j % rows`` for the snapshot's j-th VM; its
    demand is that CPU % of its vCPUs."""
    if not snapshot.vms:
        raise InputError("the snapshot has no VM to replay", "vms")
    rows = {name: j for j, name in enumerate(trace.names)}
    by_name = all(v.name in rows for v in snapshot.vms)
    pick = [rows[v.name] if by_name else j % len(trace.names) for j, v in enumerate(snapshot.vms)]
    vcpus = np.array([float(v.vcpus) for v in snapshot.vms])
    cpu = trace.cpu_pct[pick] / 100.0 * vcpus[:, None]
    cpu.setflags(write=False)
    memory_used = None
    if trace.mem_pct is not None:
        ram = np.array([float(v.memory_mib) for v in snapshot.vms])
        memory_used = trace.mem_pct[pick] / 100.0 * ram[:, None]
        memory_used.setflags(write=False)
    index = {h.name: i for i, h in enumerate(snapshot.hosts)}
    return Workload(
        hosts=snapshot.hosts,
        vms=snapshot.vms,
        cpu=cpu,
        memory_used=memory_used,
        step_s=trace.step_s,
        label=f"{trace.kind} {trace.source} on a snapshot",
        placement=np.array([index[v.host] for v in snapshot.vms], dtype=np.int64),
    )


#: Set-up name -> how it sizes a trace's hosts and VMs.
SETUPS: dict[str, Callable[[Trace], Workload]] = {"reference": reference_workload}
