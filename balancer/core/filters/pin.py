"""A pinned VM runs only on one of the hosts its pin rule names."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class PinFilter:
    NAME: ClassVar[str] = "pin"
    KIND: ClassVar[FilterKind] = "vm"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        allowed = ctx.rules.pins.get(vm.name)
        if allowed is not None and dest.name not in allowed:
            return Verdict.reject(
                Reason.PIN, f"{vm.name} is pinned to {', '.join(sorted(allowed))}"
            )
        return PASS
