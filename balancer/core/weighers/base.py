"""What a weigher is: how good is each candidate host for each item? Higher is better.

A weigher scores items (rows) against hosts (columns) in one call, so an objective that
weighs many items at once (balance) pays one numpy pass, not one per item. Scores are
normalised to 0..1 across the candidates and multiplied by the weigher's multiplier: +1
spreads load (prefer the emptiest host), −1 stacks it (prefer the fullest host that
still fits, i.e. best fit) — one pipeline for balancing and for consolidation, as in
Nova's scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from balancer.core.planning import Item, Planning

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Weigher(Protocol):
    NAME: ClassVar[str]

    def weigh(self, p: Planning, items: Sequence[Item], hosts: IntArray) -> FloatArray:
        """Scores of shape ``(len(items), len(hosts))``."""
        ...


def companions_on(
    p: Planning, items: Sequence[Item], hosts: IntArray, index: dict[str, frozenset[str]]
) -> FloatArray:
    """For each item and host: how many VMs that ``index`` pairs with the item's VMs run
    there (the soft affinity and anti-affinity weighers' count)."""
    s = p.state
    out = np.zeros((len(items), len(hosts)))
    if not index:
        return out
    column = {int(h): k for k, h in enumerate(hosts)}
    for row, item in enumerate(items):
        for v in item.vms:
            for other in index.get(s.vms[v].name, ()):
                k = column.get(s.host_of(s.vm_index[other]))
                if k is not None:
                    out[row, k] += 1.0
    return out
