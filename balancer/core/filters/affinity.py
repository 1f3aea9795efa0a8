"""Hard affinity: the VM joins the host where the rest of its group is."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class AffinityFilter:
    NAME: ClassVar[str] = "affinity"
    KIND: ClassVar[FilterKind] = "placement"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        for other in sorted(ctx.rules.together.get(vm.name, ())):
            where = s.hosts[s.host_of(s.vm_index[other])].name
            if where != dest.name:
                return Verdict.reject(
                    Reason.AFFINITY, f"{vm.name} must run with {other}, which is on {where}"
                )
        return PASS
