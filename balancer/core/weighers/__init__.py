"""The weighers, registered in one explicit table, and ``choose``: the best candidate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from balancer.core.weighers.base import FloatArray, Weigher
from balancer.core.weighers.cpu import FreeCpuWeigher
from balancer.core.weighers.memory import FreeMemoryWeigher
from balancer.core.weighers.soft_affinity import SoftAffinityWeigher

if TYPE_CHECKING:
    from balancer.core.planning import BoolArray, Item, Planning

REGISTRY: dict[str, Weigher] = {
    w.NAME: w for w in (FreeCpuWeigher(), FreeMemoryWeigher(), SoftAffinityWeigher())
}

#: Spread: prefer the emptiest host (evacuation, balancing).
SPREAD: Mapping[str, float] = {"cpu": 1.0, "memory": 1.0, "soft-affinity": 2.0}
#: Stack: prefer the fullest host that fits (consolidation: best fit).
STACK: Mapping[str, float] = {"cpu": -1.0, "memory": -1.0, "soft-affinity": 2.0}


def _normalise(x: FloatArray) -> FloatArray:
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x) if hi - lo < 1e-12 else (x - lo) / (hi - lo)


def choose(p: Planning, item: Item, mask: BoolArray, multipliers: Mapping[str, float]) -> int:
    """The candidate host with the highest weighted score (lowest index on a tie)."""
    hosts = np.flatnonzero(mask)
    if len(hosts) == 1:
        return int(hosts[0])
    total = np.zeros(len(hosts))
    for name, mult in multipliers.items():
        if mult:
            total += mult * _normalise(REGISTRY[name].weigh(p, item, hosts))
    return int(hosts[int(np.argmax(total))])


__all__ = ["REGISTRY", "SPREAD", "STACK", "Weigher", "choose"]
