"""Hard anti-affinity: the VM never shares a host with the other VMs of its group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from balancer.core.filters.base import (
    BoolArray,
    Checked,
    Cols,
    FilterContext,
    Unblocked,
    among,
    outside,
)
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class AntiAffinityFilter:
    NAME: ClassVar[str] = "anti-affinity"
    KIND: ClassVar[Literal["placement"]] = "placement"
    CHECKED: ClassVar[Checked] = "move"
    #: Only the VM it must stay apart from leaving the destination lifts the refusal.
    UNBLOCKED_BY: ClassVar[Unblocked] = "leave"

    def applies(self, ctx: FilterContext) -> bool:
        return bool(ctx.rules.apart)

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        others = ctx.rules.apart.get(vm.name)
        if not others:
            return PASS
        s = ctx.state
        h = s.host_index[dest.name]
        for other in sorted(others):
            if s.host_of(s.vm_index[other]) == h:
                return Verdict.reject(
                    Reason.ANTI_AFFINITY, f"{vm.name} must not share a host with {other}"
                )
        return PASS

    def restrict(
        self, groups: Sequence[Sequence[int]], ctx: FilterContext, cols: Cols, ok: BoolArray
    ) -> None:
        if not ctx.rules.apart:
            return
        for row, group in enumerate(groups):
            banned = {ctx.state.host_of(o) for o in outside(group, ctx.rules.apart, ctx)}
            if banned:
                ok[row] &= ~among(cols, ctx, banned)
