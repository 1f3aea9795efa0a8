"""The weighers, registered in one explicit table, and ``choose``: the best candidate.

Every objective weighs destinations through this table: evacuation and the hosts that
balance offloads onto with ``SPREAD``, consolidation with ``STACK``, balance's choice
among the moves that cut the imbalance with ``SOFT``. The soft rules' multiplier
outweighs load, so a VM that moves for any reason goes where its soft rules prefer when
such a host can take it (an existing soft violation is corrected by a move made anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from balancer.core.weighers.base import FloatArray, IntArray, Weigher
from balancer.core.weighers.cpu import FreeCpuWeigher
from balancer.core.weighers.memory import FreeMemoryWeigher
from balancer.core.weighers.soft_affinity import SoftAffinityWeigher
from balancer.core.weighers.soft_anti_affinity import SoftAntiAffinityWeigher
from balancer.core.weighers.soft_pin import SoftPinWeigher

if TYPE_CHECKING:
    from balancer.core.planning import BoolArray, Item, Planning

REGISTRY: dict[str, Weigher] = {
    w.NAME: w
    for w in (
        FreeCpuWeigher(),
        FreeMemoryWeigher(),
        SoftAffinityWeigher(),
        SoftAntiAffinityWeigher(),
        SoftPinWeigher(),
    )
}

#: Multiplier of a soft rule: more than all the load weighers together can add (each
#: gives 0..1), so a soft preference is never traded for load.
SOFT_RULE = 100.0
#: The soft rules' weighers alone (balance weighs load through its imbalance).
SOFT: Mapping[str, float] = {
    "soft-affinity": SOFT_RULE,
    "soft-anti-affinity": SOFT_RULE,
    "soft-pin": SOFT_RULE,
}
#: Spread: prefer the emptiest host (evacuation).
SPREAD: Mapping[str, float] = {"cpu": 1.0, "memory": 1.0, **SOFT}
#: Stack: prefer the fullest host that fits (consolidation: best fit).
STACK: Mapping[str, float] = {"cpu": -1.0, "memory": -1.0, **SOFT}


def _normalise(x: FloatArray) -> FloatArray:
    """Each row to 0..1 (a row whose scores are all alike: zeros)."""
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    span = hi - lo
    out: FloatArray = np.where(span < 1e-12, 0.0, (x - lo) / np.where(span < 1e-12, 1.0, span))
    return out


def scores(
    p: Planning, items: Sequence[Item], hosts: IntArray, multipliers: Mapping[str, float]
) -> FloatArray:
    """The weighted score of each item (rows) on each host (columns); soft-rule weighers
    are skipped when the snapshot has no soft rule."""
    total = np.zeros((len(items), len(hosts)))
    if len(hosts) == 0:
        return total
    for name, mult in multipliers.items():
        if not mult or (name in SOFT and not p.rules.soft):
            continue
        x = REGISTRY[name].weigh(p, items, hosts)
        if len(items) == 1:  # one row (``choose``): scalar bounds, no temporaries
            row = x[0]
            lo, hi = float(row.min()), float(row.max())
            if hi - lo >= 1e-12:
                total[0] += mult * ((row - lo) / (hi - lo))
        else:
            total += mult * _normalise(x)
    return total


def choose(p: Planning, item: Item, mask: BoolArray, multipliers: Mapping[str, float]) -> int:
    """The candidate host with the highest weighted score (lowest index on a tie)."""
    hosts = np.flatnonzero(mask)
    if len(hosts) == 1:
        return int(hosts[0])
    return int(hosts[int(np.argmax(scores(p, [item], hosts, multipliers)[0]))])


__all__ = ["REGISTRY", "SOFT", "SPREAD", "STACK", "Weigher", "choose", "scores"]
