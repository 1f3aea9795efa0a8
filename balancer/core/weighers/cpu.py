"""CPU left free on the host after the item lands, as a fraction of the host's CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from balancer.core.weighers.base import FloatArray, IntArray

if TYPE_CHECKING:
    from balancer.core.planning import Item, Planning


class FreeCpuWeigher:
    NAME: ClassVar[str] = "cpu"

    def weigh(self, p: Planning, item: Item, hosts: IntArray) -> FloatArray:
        s = p.state
        return (s.raw_cpu[hosts] - s.used_cpu[hosts] - item.cpu) / s.raw_cpu[hosts]
