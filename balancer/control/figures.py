"""The figures a cycle record carries about the cluster it saw: active hosts and their
lower bound, the CPU spread, and the estimated power now and with every host on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from balancer.control.power import power_tables, watts
from balancer.core.compose import VmArrays
from balancer.core.models import Snapshot


@dataclass(frozen=True, slots=True)
class Figures:
    active_hosts: int
    #: Fewest hosts that could hold the load (CPU, and memory unless ``cpu-only``),
    #: the largest first.
    active_hosts_lower_bound: int
    #: Standard deviation of CPU utilization over the active hosts.
    spread: float
    #: Estimated power (W) of the active hosts at their load, and of every host that is
    #: not failed (off ones idle).
    power_w: float
    power_all_on_w: float


def figures(snapshot: Snapshot, arrays: VmArrays) -> Figures:
    hosts = snapshot.hosts
    if not hosts:
        return Figures(0, 0, 0.0, 0.0, 0.0)
    active = np.array([h.state == "active" for h in hosts], dtype=np.bool_)
    cap = np.array([h.cpu_capacity_cores for h in hosts])
    used = np.array([h.cpu_used for h in hosts])
    util = used / cap
    tables = power_tables(hosts)
    power = watts(tables, util)
    alive = np.array([h.state != "failed" for h in hosts], dtype=np.bool_)
    return Figures(
        active_hosts=int(active.sum()),
        active_hosts_lower_bound=_lower_bound(snapshot, arrays),
        spread=float(np.std(util[active])) if active.any() else 0.0,
        power_w=float(power[active].sum()),
        power_all_on_w=float(power[alive].sum()),
    )


def _lower_bound(snapshot: Snapshot, arrays: VmArrays) -> int:
    cpu_need = float(arrays.cpu.sum())
    need = [(cpu_need, sorted((h.cpu_capacity_cores for h in snapshot.hosts), reverse=True))]
    if snapshot.policy.capacity_mode != "cpu-only":
        mem_need = float(arrays.memory.sum())
        need.append((mem_need, sorted((float(h.memory_mib) for h in snapshot.hosts), reverse=True)))
    bound = 0
    for total, caps in need:
        if total <= 0:
            continue
        reach = np.cumsum(caps)
        ok = np.flatnonzero(reach >= total - 1e-9)
        bound = max(bound, int(ok[0]) + 1 if len(ok) else len(caps))
    return bound
