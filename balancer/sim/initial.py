"""The initial placement: power-aware best-fit decreasing (Beloglazov & Buyya 2012, Alg. 1).

VMs are taken by CPU demand, largest first; each goes to the host whose power rises the
least when it lands, among the hosts with room (capacity less headroom; memory too in
``cpu+memory`` mode). A host with no VM is off, so opening one costs its whole draw, not
only the rise above idle: the hosts fill before another is switched on. Ties go to the
host with the fewest VMs, then the lowest index (VMs idle at step 0 rise no host's
power; without that rule they would all land on one). When no host has room, the VM
goes where most CPU is left.

Which off host to open is where the greedy rule is short-sighted: for any one VM the
host with the lowest idle power rises least (an HP G4 over a G5), though the host will
be filled and a G5 then holds 43 % more load for 15 % more power. ``opening="amortized"``
divides an off host's rise by the number of such VMs it could hold, so the host with
the least power per VM opens; ``opening="rise"`` is the paper's rule read with off hosts
at 0 W.

``cloudsim_creation`` is instead what the reference implementation (CloudSim 3.0.3,
``PowerVmAllocationPolicyMigrationAbstract.findHostForVm`` at VM creation) does:

- VMs in their list order (the trace's file order: blocks of 2500, 2000, 1000, 500 MIPS),
  each asking for its full size (``Vm.getCurrentRequestedMips`` while it is being
  instantiated), not its demand, and its full RAM;
- a host suits a VM when one of its cores is at least as fast as the VM's
  (``getPeCapacity() >= getCurrentRequestedMaxMips()``: a 2500-MIPS VM never goes on
  a G4's 1860-MIPS cores) and its unreserved MIPS and RAM hold the VM;
- among those, the host whose power rises least, ``power(after) - getPower()``; a host's
  ``getPower()`` is its table at the utilization of its last processing update, which
  during creation is 0 % for every host, so the rise is the table's rise above idle for
  that VM alone (an empty host is not charged its idle power), and ties go to the first
  host in the list (a strict ``<``): first fit over the best host type, the G5 for all
  four VM types.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from balancer.control.power import FloatArray, power_tables, watts
from balancer.core.models import CapacityMode, Host
from balancer.errors import InputError

IntArray = npt.NDArray[np.int64]
Opening = Literal["rise", "amortized", "cloudsim"]
EPS = 1e-9


def power_aware_bfd(
    hosts: tuple[Host, ...],
    cpu: FloatArray,
    memory: FloatArray,
    *,
    headroom: float,
    capacity_mode: CapacityMode,
    memory_headroom: float = 0.0,
    opening: Opening = "amortized",
) -> IntArray:
    """Host index of each VM, given each VM's CPU (cores) and memory (MiB) demand;
    ``headroom`` of each host's CPU is kept free, ``memory_headroom`` of its memory."""
    tables = power_tables(hosts)
    cap_cpu = np.array([h.cpu_capacity_cores for h in hosts], dtype=np.float64)
    cap_mem = np.array([float(h.memory_mib) for h in hosts], dtype=np.float64)
    room_cpu = cap_cpu * (1.0 - headroom)
    cpu_only = capacity_mode == "cpu-only"
    full_mem = np.full(len(hosts), np.inf) if cpu_only else cap_mem
    room_mem = full_mem * (1.0 - memory_headroom)
    used_cpu = np.zeros(len(hosts))
    used_mem = np.zeros(len(hosts))
    count = np.zeros(len(hosts), dtype=np.int64)
    placement = np.full(len(cpu), -1, dtype=np.int64)
    for v in np.argsort(-cpu, kind="stable"):
        fits = (used_cpu + cpu[v] <= room_cpu + EPS) & (used_mem + memory[v] <= room_mem + EPS)
        if fits.any():
            is_on = count > 0
            before = np.where(is_on, watts(tables, used_cpu / cap_cpu), 0.0)
            rise = watts(tables, (used_cpu + cpu[v]) / cap_cpu) - before
            if opening == "amortized":
                slots = np.minimum(room_cpu / max(cpu[v], EPS), room_mem / max(memory[v], EPS))
                rise = np.where(is_on, rise, rise / np.maximum(slots, 1.0))
            rise = np.where(fits, rise, np.inf)
            best = np.flatnonzero(rise <= rise.min() + EPS)
            h = int(best[np.argmin(count[best])])
        else:
            h = _most_room(used_cpu, cap_cpu, used_mem + memory[v] <= full_mem + EPS)
        placement[v] = h
        used_cpu[h] += cpu[v]
        used_mem[h] += memory[v]
        count[h] += 1
    return placement


def _most_room(used: FloatArray, cap: FloatArray, mem_ok: npt.NDArray[np.bool_]) -> int:
    if not mem_ok.any():
        raise InputError("the hosts' memory cannot hold the VMs")
    return int(np.argmax(np.where(mem_ok, cap - used, -np.inf)))


def cloudsim_creation(
    hosts: tuple[Host, ...],
    size: FloatArray,
    memory: FloatArray,
    vcpus: FloatArray,
) -> IntArray:
    """Host index of each VM as CloudSim 3.0.3 creates them (module docstring): ``size``
    each VM's full CPU (cores), ``memory`` its RAM (MiB), ``vcpus`` its cores."""
    tables = power_tables(hosts)
    cap = np.array([h.cpu_capacity_cores for h in hosts], dtype=np.float64)
    core = cap / np.array([h.cpu.cores for h in hosts], dtype=np.float64)
    free_cpu = cap.copy()
    free_mem = np.array([float(h.memory_mib) for h in hosts], dtype=np.float64)
    idle = tables[:, 0]
    placement = np.full(len(size), -1, dtype=np.int64)
    for v in range(len(size)):
        suits = (
            (core >= size[v] / vcpus[v] - EPS)
            & (free_cpu >= size[v] - EPS)
            & (free_mem >= memory[v] - EPS)
        )
        if not suits.any():
            raise InputError(
                f"no host can create VM {v} ({size[v]:.2f} cores, {memory[v]:.0f} MiB)"
            )
        rise = np.where(suits, watts(tables, size[v] / cap) - idle, np.inf)
        h = int(np.argmin(rise))  # the first of the least: CloudSim's strict '<'
        placement[v] = h
        free_cpu[h] -= size[v]
        free_mem[h] -= memory[v]
    return placement
