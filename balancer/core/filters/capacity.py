"""The destination keeps its headroom after the VM lands: CPU by the VMs' use, memory by
their allocation (no memory over-commit); memory is not counted in ``cpu-only`` mode.
A VM already on the host costs it nothing more. The sums are ``ClusterState``'s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np

from balancer.core.cluster import FloatArray
from balancer.core.filters.base import BoolArray, Checked, FilterContext, IntArray
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class CapacityFilter:
    NAME: ClassVar[str] = "capacity"
    KIND: ClassVar[Literal["placement"]] = "placement"
    #: VMs leaving a host in a wave make room for the ones arriving.
    CHECKED: ClassVar[Checked] = "wave"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        h = s.host_index[dest.name]
        here = s.host_of(s.vm_index[vm.name]) == h
        cpu = 0.0 if here else float(s.vm_cpu[s.vm_index[vm.name]])
        mem = 0.0 if here else float(vm.memory_mib)
        cpu_ok, mem_ok = s.room_at(h, cpu, mem)
        if not cpu_ok:
            return Verdict.reject(
                Reason.CPU_CAPACITY,
                f"{dest.name} has {max(s.free_cpu(h), 0):.2f} of {cpu:.2f} cores free "
                f"(headroom {ctx.policy.headroom:.0%})",
            )
        if not mem_ok:
            return Verdict.reject(
                Reason.MEMORY_CAPACITY,
                f"{dest.name} has {max(s.free_mem(h), 0):.0f} of {mem:.0f} MiB free "
                f"(headroom {ctx.policy.headroom:.0%})",
            )
        return PASS

    def mask_many(
        self, groups: Sequence[Sequence[int]], ctx: FilterContext, cols: IntArray
    ) -> BoolArray | None:
        s = ctx.state
        cpu = np.array([_total(s.vm_cpu, g) for g in groups], dtype=np.float64)
        mem = np.array([_total(s.vm_mem, g) for g in groups], dtype=np.float64)
        ok = s.fit_many(cpu, mem, cols)
        for row, group in enumerate(groups):
            for where in {s.host_of(v) for v in group}:
                at = np.flatnonzero(cols == where)
                if len(at):  # the VMs already there cost it nothing
                    rest = [v for v in group if s.host_of(v) != where]
                    cpu_ok, mem_ok = s.room_at(
                        where, _total(s.vm_cpu, rest), _total(s.vm_mem, rest)
                    )
                    ok[row, at] = cpu_ok and mem_ok
        return ok


def _total(values: FloatArray, vms: Sequence[int]) -> float:
    """The sum over ``vms``, in the order the planner's items sum them."""
    if len(vms) == 1:
        return float(values[vms[0]])
    return float(values[list(vms)].sum()) if vms else 0.0
