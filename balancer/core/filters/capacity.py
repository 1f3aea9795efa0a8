"""The destination keeps its headroom after the VM lands: CPU by the VMs' use, memory by
their allocation (no memory over-commit); memory is not counted in ``cpu-only`` mode."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.cluster import EPS, vm_cpu_demand
from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class CapacityFilter:
    NAME: ClassVar[str] = "capacity"
    KIND: ClassVar[FilterKind] = "placement"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        h = s.host_index[dest.name]
        here = s.host_of(s.vm_index[vm.name]) == h
        cpu = 0.0 if here else vm_cpu_demand(vm)
        mem = 0.0 if here else float(vm.memory_mib)
        if s.used_cpu[h] + cpu > s.cap_cpu[h] + EPS:
            return Verdict.reject(
                Reason.CPU_CAPACITY,
                f"{dest.name} has {max(s.free_cpu(h), 0):.2f} of {cpu:.2f} cores free "
                f"(headroom {ctx.policy.headroom:.0%})",
            )
        if s.used_mem[h] + mem > s.cap_mem[h] + EPS:
            return Verdict.reject(
                Reason.MEMORY_CAPACITY,
                f"{dest.name} has {max(s.free_mem(h), 0):.0f} of {mem:.0f} MiB free "
                f"(headroom {ctx.policy.headroom:.0%})",
            )
        return PASS
