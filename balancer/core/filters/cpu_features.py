"""Every CPU feature the guest requires must be offered by the destination (guide 12.4)."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class CpuFeaturesFilter:
    NAME: ClassVar[str] = "cpu-features"
    KIND: ClassVar[FilterKind] = "host"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        missing = sorted(set(vm.cpu.features) - set(dest.cpu.features))
        if missing:
            return Verdict.reject(
                Reason.CPU_FEATURES, f"{dest.name} lacks CPU features {', '.join(missing)}"
            )
        return PASS
