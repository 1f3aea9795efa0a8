"""The destination keeps its headroom after the VM lands: CPU by the VMs' use, memory by
their allocation (no memory over-commit); memory is not counted in ``cpu-only`` mode.
A VM already on the host costs it nothing more. The sums are ``ClusterState``'s."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np

from balancer.core.cluster import FloatArray
from balancer.core.filters.base import (
    BoolArray,
    Checked,
    Cols,
    FilterContext,
    Unblocked,
    columns_of,
)
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class CapacityFilter:
    NAME: ClassVar[str] = "capacity"
    KIND: ClassVar[Literal["placement"]] = "placement"
    #: VMs leaving a host in a wave make room for the ones arriving.
    CHECKED: ClassVar[Checked] = "wave"
    #: Only a VM leaving the destination frees room there.
    UNBLOCKED_BY: ClassVar[Unblocked] = "leave"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        h, v = s.host_index[dest.name], s.vm_index[vm.name]
        here = s.vm_host[v] == h
        cpu = 0.0 if here else float(s.vm_cpu[v])
        mem = 0.0 if here else float(s.vm_mem[v])
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

    def restrict(
        self, groups: Sequence[Sequence[int]], ctx: FilterContext, cols: Cols, ok: BoolArray
    ) -> None:
        s = ctx.state
        if len(groups) == 1 and len(groups[0]) == 1:  # the planner's most frequent ask
            v = groups[0][0]
            fit = s.fit_many(s.vm_cpu[v : v + 1], s.vm_mem[v : v + 1], cols)
            cells = [(0, int(c)) for c in columns_of(cols, s.host_of(v))]
        elif all(len(g) == 1 for g in groups):
            firsts = [g[0] for g in groups]
            fit = s.fit_many(s.vm_cpu[firsts], s.vm_mem[firsts], cols)
            if cols is None:
                cells = [(row, s.host_of(v)) for row, v in enumerate(firsts) if s.host_of(v) >= 0]
            else:
                hits = np.argwhere(cols[None, :] == s.vm_host[firsts][:, None])
                cells = [(int(row), int(col)) for row, col in hits]
        else:
            cpu = np.array([_total(s.vm_cpu, g) for g in groups], dtype=np.float64)
            mem = np.array([_total(s.vm_mem, g) for g in groups], dtype=np.float64)
            fit = s.fit_many(cpu, mem, cols)
            cells = [(row, int(col)) for row, g in enumerate(groups)
                     for h in {s.host_of(v) for v in g} for col in columns_of(cols, h)]  # fmt: skip
        # The VMs already on a host cost it nothing: those cells are judged again.
        for row, col in cells:
            where = int(col if cols is None else cols[col])
            rest = [v for v in groups[row] if s.host_of(v) != where]
            cpu_ok, mem_ok = s.room_at(where, _total(s.vm_cpu, rest), _total(s.vm_mem, rest))
            fit[row, col] = cpu_ok and mem_ok
        ok &= fit


def _total(values: FloatArray, vms: Sequence[int]) -> float:
    """The sum over ``vms``, in the order the planner's items sum them."""
    if len(vms) == 1:
        return float(values[vms[0]])
    return float(values[list(vms)].sum()) if vms else 0.0
