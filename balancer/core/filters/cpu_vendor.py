"""Intel ↔ AMD migration is unsupported (guide 12.3): the CPU vendor must match."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class CpuVendorFilter:
    NAME: ClassVar[str] = "cpu-vendor"
    KIND: ClassVar[FilterKind] = "host"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        if vm.cpu.vendor.lower() != dest.cpu.vendor.lower():
            return Verdict.reject(
                Reason.CPU_VENDOR, f"guest CPU is {vm.cpu.vendor}, {dest.name} is {dest.cpu.vendor}"
            )
        return PASS
