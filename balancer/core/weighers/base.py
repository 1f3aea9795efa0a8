"""What a weigher is: how good is each candidate host for an item? Higher is better.

Scores are normalised to 0..1 across the candidates and multiplied by the weigher's
multiplier: +1 spreads load (prefer the emptiest host), −1 stacks it (prefer the
fullest host that still fits, i.e. best fit) — one pipeline for balancing and for
consolidation, as in Nova's scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from balancer.core.planning import Item, Planning

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Weigher(Protocol):
    NAME: ClassVar[str]

    def weigh(self, p: Planning, item: Item, hosts: IntArray) -> FloatArray: ...
