"""A VM does not migrate to the host it runs on at this point of planning (in a plan's
replay: the move's source; a VM planned away may still return to its snapshot host)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from balancer.core.filters.base import BoolArray, Cols, FilterContext
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class SameHostFilter:
    NAME: ClassVar[str] = "same-host"
    KIND: ClassVar[Literal["vm"]] = "vm"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        if s.host_of(s.vm_index[vm.name]) == s.host_index[dest.name]:
            return Verdict.reject(Reason.SAME_HOST, f"{vm.name} already runs on {dest.name}")
        return PASS

    def restrict(self, vms: Sequence[int], ctx: FilterContext, cols: Cols, ok: BoolArray) -> None:
        s = ctx.state
        if cols is not None:
            ok &= cols[None, :] != s.vm_host[list(vms)][:, None]
            return
        for row, v in enumerate(vms):
            h = s.host_of(v)
            if h >= 0:
                ok[row, h] = False
