"""A pinned VM runs only on one of the hosts its pin rule names."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from balancer.core.filters.base import BoolArray, FilterContext, IntArray
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

    def mask(self, vm: Vm, ctx: FilterContext, cols: IntArray) -> BoolArray | None:
        allowed = ctx.rules.pins.get(vm.name)
        if allowed is None:
            return None
        index = ctx.state.host_index
        return np.isin(cols, [index[h] for h in allowed if h in index])
