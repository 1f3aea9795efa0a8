"""Intel ↔ AMD migration is unsupported (guide 12.3): the CPU vendor must match."""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.filters.facts import host_cpu
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class CpuVendorFilter:
    NAME: ClassVar[str] = "cpu-vendor"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(vm=("cpu",), dest=(host_cpu,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        if vm.cpu.vendor.lower() != dest.cpu.vendor.lower():
            return Verdict.reject(
                Reason.CPU_VENDOR, f"guest CPU is {vm.cpu.vendor}, {dest.name} is {dest.cpu.vendor}"
            )
        return PASS
