"""CPU left free on the host after the item lands, as a fraction of the host's CPU."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from balancer.core.weighers.base import FloatArray, IntArray

if TYPE_CHECKING:
    from balancer.core.planning import Item, Planning


class FreeCpuWeigher:
    NAME: ClassVar[str] = "cpu"

    def weigh(self, p: Planning, items: Sequence[Item], hosts: IntArray) -> FloatArray:
        s = p.state
        cpu = np.array([it.cpu for it in items])[:, None]
        raw = s.raw_cpu[hosts][None, :]
        score: FloatArray = (raw - s.used_cpu[hosts][None, :] - cpu) / raw
        return score
