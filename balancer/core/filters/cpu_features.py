"""Every CPU feature the guest requires must be offered by the destination (guide 12.4),
by the hypervisor of the guest's domain type, in libvirt's feature names. A
host-passthrough guest needs exactly its source's CPU features on the destination's own
CPU (the guest sees the host's CPU as it is); a shut-off host-model guest takes the
destination's host-model when it starts.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.filters.facts import host_cpu
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


def missing_features(vm: Vm, dest: Host) -> tuple[list[str], list[str]]:
    """``(missing, extra)``: features the guest needs that ``dest`` lacks, and (for a
    host-passthrough guest only) features ``dest``'s CPU has beyond its source's."""
    cpu = vm.cpu
    if cpu.mode == "host-passthrough":
        own = set(dest.cpu.physical.features) if dest.cpu.physical else set()
        return sorted(set(cpu.features) - own), sorted(own - set(cpu.features))
    if cpu.mode == "host-model" and vm.state == "shutoff":
        return [], []
    offer = dest.cpu.offer(cpu.virt_type)
    offered = set(offer.features) if offer is not None else set()
    return sorted(set(cpu.features) - offered), []


class CpuFeaturesFilter:
    NAME: ClassVar[str] = "cpu-features"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(vm=("cpu", "state"), dest=(host_cpu,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        missing, extra = missing_features(vm, dest)
        if missing:
            return Verdict.reject(
                Reason.CPU_FEATURES, f"{dest.name} lacks CPU features {', '.join(missing)}"
            )
        if extra:
            detail = f"host-passthrough guest: {dest.name}'s CPU also has {', '.join(extra)}"
            return Verdict.reject(Reason.CPU_FEATURES, f"{detail} (not the same CPU)")
        return PASS
