"""The planner's working copy of a cluster: where each VM is, what each host has left.

A snapshot is frozen; planning needs "what if this VM were there". ``ClusterState`` holds
the placement and the per-host usage in numpy arrays so that a planner can ask "which
hosts still fit this VM" for all hosts at once. It is private to one ``plan()`` call.

Capacity rules (the guide has no over-commit of memory, and we keep headroom):
- CPU: a host holds its own overhead (its ``cpu_used`` beyond its VMs') plus the VMs'
  ``cpu_used``; usable capacity is ``cpu_capacity × (1 − headroom)``.
- Memory: the VMs' allocated ``memory_mib`` (shut-off VMs included: they may start);
  usable capacity is ``memory_mib × (1 − headroom)``; ignored in ``cpu-only`` mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancer.core.models import Host, Policy, Snapshot, Vm

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Tolerance for capacity comparisons (float sums drift).
EPS = 1e-9
#: ``host_of`` a VM taken off its host during planning.
UNPLACED = -1


@dataclass(frozen=True)
class Checkpoint:
    used_cpu: FloatArray
    used_mem: FloatArray
    vm_host: npt.NDArray[np.int64]
    members: list[set[int]]


def vm_cpu_demand(vm: Vm) -> float:
    """CPU a VM needs where it lands: what it uses, and nothing while shut off."""
    return 0.0 if vm.state == "shutoff" else vm.cpu_used


class ClusterState:
    """Mutable placement of the snapshot's VMs over its hosts (one plan's scratchpad)."""

    def __init__(self, snapshot: Snapshot, policy: Policy) -> None:
        self.hosts: tuple[Host, ...] = snapshot.hosts
        self.vms: tuple[Vm, ...] = snapshot.vms
        self.host_index = {h.name: i for i, h in enumerate(self.hosts)}
        self.vm_index = {v.name: i for i, v in enumerate(self.vms)}
        keep = 1.0 - policy.headroom
        self.cpu_only = policy.capacity_mode == "cpu-only"
        self.raw_cpu = np.array([h.cpu_capacity_cores for h in self.hosts], dtype=np.float64)
        self.raw_mem = np.array([float(h.memory_mib) for h in self.hosts], dtype=np.float64)
        self.cap_cpu = self.raw_cpu * keep
        self.cap_mem = np.full(len(self.hosts), np.inf) if self.cpu_only else self.raw_mem * keep
        #: What a host's usage may reach (its capacity, with the float tolerance).
        self.cpu_limit: FloatArray = self.cap_cpu + EPS
        self.mem_limit: FloatArray = self.cap_mem + EPS
        self.vm_cpu = np.array([vm_cpu_demand(v) for v in self.vms], dtype=np.float64)
        self.vm_mem = np.array([float(v.memory_mib) for v in self.vms], dtype=np.float64)
        self.original_host = np.array([self.host_index[v.host] for v in self.vms], dtype=np.int64)
        self.vm_host = self.original_host.copy()
        self.members: list[set[int]] = [set() for _ in self.hosts]
        for i, h in enumerate(self.vm_host):
            self.members[h].add(i)
        n = len(self.hosts)
        vm_cpu_sum = np.bincount(self.vm_host, weights=self.vm_cpu, minlength=n)
        reported = np.array([h.cpu_used for h in self.hosts], dtype=np.float64)
        self.overhead_cpu: FloatArray = np.maximum(reported - vm_cpu_sum, 0.0)
        self.used_cpu: FloatArray = self.overhead_cpu + vm_cpu_sum
        self.used_mem: FloatArray = np.bincount(
            self.vm_host, weights=self.vm_mem, minlength=n
        ).astype(np.float64)

    # -- queries ---------------------------------------------------------------------

    def host(self, i: int) -> Host:
        return self.hosts[i]

    def host_of(self, vm: int) -> int:
        return int(self.vm_host[vm])

    def free_cpu(self, h: int) -> float:
        return float(self.cap_cpu[h] - self.used_cpu[h])

    def free_mem(self, h: int) -> float:
        return float(self.cap_mem[h] - self.used_mem[h])

    def room_at(self, h: int, cpu: float, mem: float) -> tuple[bool, bool]:
        """Whether host ``h`` has room for ``cpu`` cores, and for ``mem`` MiB."""
        return (
            bool(self.used_cpu[h] + cpu <= self.cpu_limit[h]),
            bool(self.used_mem[h] + mem <= self.mem_limit[h]),
        )

    def fit_many(self, cpu: FloatArray, mem: FloatArray, cols: IntArray | None = None) -> BoolArray:
        """Whether each demand (rows: ``cpu`` cores and ``mem`` MiB) has room on each
        host of ``cols`` (columns; all hosts when ``None``); the same sums as ``room_at``."""
        if len(cpu) == 1 and cols is None:  # one demand over every host: no broadcasting
            one: BoolArray = self.used_cpu + cpu[0] <= self.cpu_limit
            if not self.cpu_only:
                one &= self.used_mem + mem[0] <= self.mem_limit
            row: BoolArray = one[None, :]
            return row
        used_cpu, cpu_limit = (
            (self.used_cpu, self.cpu_limit)
            if cols is None
            else (self.used_cpu[cols], self.cpu_limit[cols])
        )
        ok = used_cpu[None, :] + cpu[:, None] <= cpu_limit[None, :]
        if not self.cpu_only:
            used_mem, mem_limit = (
                (self.used_mem, self.mem_limit)
                if cols is None
                else (self.used_mem[cols], self.mem_limit[cols])
            )
            ok &= used_mem[None, :] + mem[:, None] <= mem_limit[None, :]
        return ok

    def fit_mask(self, cpu: float, mem: float) -> BoolArray:
        """Hosts with room for ``cpu`` cores and ``mem`` MiB, all at once."""
        ok: BoolArray = self.fit_many(np.array([cpu]), np.array([mem]))[0]
        return ok

    def overloaded(self, h: int) -> bool:
        return bool(
            self.used_cpu[h] > self.cap_cpu[h] + EPS or self.used_mem[h] > self.cap_mem[h] + EPS
        )

    def cpu_util(self) -> FloatArray:
        return self.used_cpu / self.raw_cpu

    def mem_util(self) -> FloatArray:
        return self.used_mem / self.raw_mem

    def empty(self, h: int) -> bool:
        return not self.members[h]

    def moved(self) -> Iterable[int]:
        """VMs whose planned host differs from their original one."""
        return (int(i) for i in np.flatnonzero(self.vm_host != self.original_host))

    # -- changes ---------------------------------------------------------------------

    def move(self, vm: int, h: int) -> None:
        old = int(self.vm_host[vm])
        if old == h:
            return
        if old != UNPLACED:
            self.unplace(vm)
        self.used_cpu[h] += self.vm_cpu[vm]
        self.used_mem[h] += self.vm_mem[vm]
        self.members[h].add(vm)
        self.vm_host[vm] = h

    def unplace(self, vm: int) -> None:
        """Take a VM off its host while a planner looks for a new one."""
        old = int(self.vm_host[vm])
        if old == UNPLACED:
            return
        self.used_cpu[old] -= self.vm_cpu[vm]
        self.used_mem[old] -= self.vm_mem[vm]
        self.members[old].discard(vm)
        self.vm_host[vm] = UNPLACED

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(
            self.used_cpu.copy(),
            self.used_mem.copy(),
            self.vm_host.copy(),
            [set(m) for m in self.members],
        )

    def restore(self, cp: Checkpoint) -> None:
        self.used_cpu, self.used_mem = cp.used_cpu.copy(), cp.used_mem.copy()
        self.vm_host = cp.vm_host.copy()
        self.members = [set(m) for m in cp.members]

    def move_all(self, vms: Sequence[int], h: int) -> None:
        for vm in vms:
            self.move(vm, h)
