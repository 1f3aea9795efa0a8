"""Memory left free on the host after the item lands, as a fraction of the host's memory
(all hosts score alike in ``cpu-only`` capacity mode)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from balancer.core.weighers.base import FloatArray, IntArray

if TYPE_CHECKING:
    from balancer.core.planning import Item, Planning


class FreeMemoryWeigher:
    NAME: ClassVar[str] = "memory"

    def weigh(self, p: Planning, items: Sequence[Item], hosts: IntArray) -> FloatArray:
        s = p.state
        if s.cpu_only:
            return np.zeros((len(items), len(hosts)))
        mem = np.array([it.mem for it in items])[:, None]
        raw = s.raw_mem[hosts][None, :]
        score: FloatArray = (raw - s.used_mem[hosts][None, :] - mem) / raw
        return score
