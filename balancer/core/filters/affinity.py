"""Hard affinity: the VM joins the host where the rest of its group is. The planner moves
a group as one (all its members to one host), so only a group's partial moves meet it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from balancer.core.cluster import UNPLACED
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


class AffinityFilter:
    NAME: ClassVar[str] = "affinity"
    KIND: ClassVar[Literal["placement"]] = "placement"
    #: A group may move over several waves: it must be together when the plan ends.
    CHECKED: ClassVar[Checked] = "end"
    #: A partner arriving or leaving anywhere can lift the refusal.
    UNBLOCKED_BY: ClassVar[Unblocked] = "any"

    def applies(self, ctx: FilterContext) -> bool:
        return bool(ctx.rules.together)

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        for other in sorted(ctx.rules.together.get(vm.name, ())):
            h = s.host_of(s.vm_index[other])
            if h == UNPLACED:
                return Verdict.reject(Reason.AFFINITY, f"{vm.name} must run with {other}, "
                                      "which has no host at this point")  # fmt: skip
            if s.hosts[h].name != dest.name:
                return Verdict.reject(
                    Reason.AFFINITY,
                    f"{vm.name} must run with {other}, which is on {s.hosts[h].name}",
                )
        return PASS

    def restrict(
        self, groups: Sequence[Sequence[int]], ctx: FilterContext, cols: Cols, ok: BoolArray
    ) -> None:
        if not ctx.rules.together:
            return
        for row, group in enumerate(groups):
            for o in outside(group, ctx.rules.together, ctx):
                ok[row] &= among(cols, ctx, (ctx.state.host_of(o),))
