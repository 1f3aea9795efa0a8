"""A VM does not migrate to the host it already runs on."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class SameHostFilter:
    NAME: ClassVar[str] = "same-host"
    KIND: ClassVar[FilterKind] = "vm"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        if dest.name == vm.host:
            return Verdict.reject(Reason.SAME_HOST, f"{vm.name} already runs on {dest.name}")
        return PASS
