"""Soft pin ("prefer these hosts"): +1 on a host that a soft pin of the item's VMs names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from balancer.core.weighers.base import FloatArray, IntArray

if TYPE_CHECKING:
    from balancer.core.planning import Item, Planning


class SoftPinWeigher:
    NAME: ClassVar[str] = "soft-pin"

    def weigh(self, p: Planning, items: Sequence[Item], hosts: IntArray) -> FloatArray:
        s, prefer = p.state, p.rules.prefer_hosts
        out = np.zeros((len(items), len(hosts)))
        if not prefer:
            return out
        names = [s.hosts[int(h)].name for h in hosts]
        for row, item in enumerate(items):
            for v in item.vms:
                liked = prefer.get(s.vms[v].name)
                if liked:
                    out[row] += [name in liked for name in names]
        return out
