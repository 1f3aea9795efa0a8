"""A NUMA-pinned VM moves only to a host with a similar topology: at least as many NUMA
nodes as its source (guide 12.3)."""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class NumaFilter:
    NAME: ClassVar[str] = "numa"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(
        vm=("numa_pinned",), source=("numa_nodes",), dest=("numa_nodes",)
    )

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        needed = ctx.source(vm).numa_nodes
        if vm.numa_pinned and dest.numa_nodes < needed:
            return Verdict.reject(
                Reason.NUMA,
                f"{vm.name} is NUMA-pinned over {needed} nodes; {dest.name} has {dest.numa_nodes}",
            )
        return PASS
