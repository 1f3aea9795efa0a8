"""The destination's QEMU must offer the guest's machine type (guide 12.9)."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class MachineTypeFilter:
    NAME: ClassVar[str] = "machine-type"
    KIND: ClassVar[FilterKind] = "host"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        if vm.machine_type not in dest.machine_types:
            return Verdict.reject(
                Reason.MACHINE_TYPE, f"{dest.name} does not offer machine type {vm.machine_type}"
            )
        return PASS
