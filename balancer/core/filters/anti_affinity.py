"""Hard anti-affinity: the VM never shares a host with the other VMs of its group."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class AntiAffinityFilter:
    NAME: ClassVar[str] = "anti-affinity"
    KIND: ClassVar[FilterKind] = "placement"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        h = s.host_index[dest.name]
        for other in sorted(ctx.rules.apart.get(vm.name, ())):
            if s.host_of(s.vm_index[other]) == h:
                return Verdict.reject(
                    Reason.ANTI_AFFINITY, f"{vm.name} must not share a host with {other}"
                )
        return PASS
