"""Soft affinity: +1 for each VM the item prefers to share a host with that runs there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from balancer.core.weighers.base import FloatArray, IntArray, companions_on

if TYPE_CHECKING:
    from balancer.core.planning import Item, Planning


class SoftAffinityWeigher:
    NAME: ClassVar[str] = "soft-affinity"

    def weigh(self, p: Planning, items: Sequence[Item], hosts: IntArray) -> FloatArray:
        return companions_on(p, items, hosts, p.rules.prefer_together)
