"""Where the simulated VMs start (pure).

``packed``: the simulator's power-aware best-fit decreasing (``balancer.sim.initial``) on
the VMs' load at the start, keeping ``CPU_HEADROOM`` of each host's CPU and
``MEMORY_HEADROOM`` of its memory free; large fleets are packed in independent groups of
at most ``GROUP_HOSTS`` hosts (VM j in group j mod G, the hosts in contiguous blocks so
both host types are in every group), which keeps the start within seconds at 10,000 hosts.
``spread``: VM j on host j mod N (every host gets the same mix of VM types).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from balancer.core.models import Host
from balancer.fleet.config import Placement
from balancer.sim.initial import power_aware_bfd

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
CPU_HEADROOM = 0.3
MEMORY_HEADROOM = 0.15
GROUP_HOSTS = 250


def initial_placement(
    how: Placement, hosts: tuple[Host, ...], cpu: FloatArray, memory: FloatArray
) -> IntArray:
    """Host index of each VM (``cpu``: cores at the start, ``memory``: MiB)."""
    if how == "spread":
        return np.arange(len(cpu), dtype=np.int64) % len(hosts)
    groups = math.ceil(len(hosts) / GROUP_HOSTS)
    bounds = np.linspace(0, len(hosts), groups + 1).round().astype(np.int64)
    out = np.empty(len(cpu), dtype=np.int64)
    for g in range(groups):
        lo, hi = int(bounds[g]), int(bounds[g + 1])
        members = np.arange(g, len(cpu), groups)
        if len(members) == 0:
            continue
        local = power_aware_bfd(
            hosts[lo:hi],
            cpu[members],
            memory[members],
            headroom=CPU_HEADROOM,
            capacity_mode="cpu+memory",
            memory_headroom=MEMORY_HEADROOM,
        )
        out[members] = local + lo
    return out
