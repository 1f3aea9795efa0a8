"""Spread: the standard deviation of utilization across the hosts that are on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from balancer.core.cluster import ClusterState

if TYPE_CHECKING:
    from balancer.core.planning import BoolArray, Planning


def spread(state: ClusterState, online: BoolArray) -> tuple[float, float]:
    """(CPU, memory) standard deviation of utilization over ``online`` hosts."""
    if not online.any():
        return 0.0, 0.0
    cpu = state.used_cpu[online] / state.raw_cpu[online]
    mem = state.used_mem[online] / state.raw_mem[online]
    return float(np.std(cpu)), float(np.std(mem))


def spread_score(p: Planning, online: BoolArray) -> float:
    cpu, mem = spread(p.state, online)
    return cpu if p.state.cpu_only else cpu + mem
