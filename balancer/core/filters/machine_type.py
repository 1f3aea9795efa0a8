"""The destination's QEMU must offer the guest's machine type (guide 12.9)."""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import PASS, Reason, Verdict


def machine_types(host: Host, policy: Policy) -> frozenset[str]:
    return frozenset(host.machine_types)


class MachineTypeFilter:
    NAME: ClassVar[str] = "machine-type"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(vm=("machine_type",), dest=(machine_types,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        if vm.machine_type not in dest.machine_types:
            return Verdict.reject(
                Reason.MACHINE_TYPE, f"{dest.name} does not offer machine type {vm.machine_type}"
            )
        return PASS
