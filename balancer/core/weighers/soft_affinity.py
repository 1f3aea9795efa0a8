"""Soft rules: +1 for each preferred companion already on the host, −1 for each VM the
item would rather avoid."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from balancer.core.weighers.base import FloatArray, IntArray

if TYPE_CHECKING:
    from balancer.core.planning import Item, Planning


class SoftAffinityWeigher:
    NAME: ClassVar[str] = "soft-affinity"

    def weigh(self, p: Planning, item: Item, hosts: IntArray) -> FloatArray:
        s, rules = p.state, p.rules
        if not rules.prefer_together and not rules.prefer_apart:
            return np.zeros(len(hosts))
        score = np.zeros(len(s.hosts))
        for v in item.vms:
            name = s.vms[v].name
            for other in rules.prefer_together.get(name, ()):
                score[s.host_of(s.vm_index[other])] += 1.0
            for other in rules.prefer_apart.get(name, ()):
                score[s.host_of(s.vm_index[other])] -= 1.0
        return score[hosts]
