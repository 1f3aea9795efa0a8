"""VMs with host device passthrough, SR-IOV or mediated devices (vGPU) cannot migrate
(guide 12.3): every destination is refused."""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


def passthrough_verdict(vm: Vm) -> Verdict:
    d = vm.devices
    kinds = [
        f"{n} {k}" for k, n in (("hostdev", d.hostdev), ("SR-IOV", d.sriov), ("mdev", d.mdev)) if n
    ]
    if kinds:
        return Verdict.reject(Reason.PASSTHROUGH, f"{vm.name} has {', '.join(kinds)} device(s)")
    return PASS


class PassthroughFilter:
    NAME: ClassVar[str] = "passthrough"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(vm=("devices",))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        return passthrough_verdict(vm)
