"""A pinned VM runs only on one of the hosts its pin rule names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from balancer.core.filters.base import BoolArray, Cols, FilterContext, among
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class PinFilter:
    NAME: ClassVar[str] = "pin"
    KIND: ClassVar[Literal["vm"]] = "vm"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        allowed = ctx.rules.pins.get(vm.name)
        if allowed is not None and dest.name not in allowed:
            return Verdict.reject(
                Reason.PIN, f"{vm.name} is pinned to {', '.join(sorted(allowed))}"
            )
        return PASS

    def restrict(self, vms: Sequence[int], ctx: FilterContext, cols: Cols, ok: BoolArray) -> None:
        pins = ctx.rules.pins
        if not pins:
            return
        index, guests = ctx.state.host_index, ctx.state.vms
        for row, v in enumerate(vms):
            allowed = pins.get(guests[v].name)
            if allowed is not None:
                ok[row] &= among(cols, ctx, (index[h] for h in allowed if h in index))
