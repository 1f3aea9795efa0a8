"""The filters, registered in one explicit table (order: cheapest and most telling first).

Each filter answers "can this VM run on that host?" with a ``Verdict``. ``host`` filters
depend only on the VM's facts, its source and the destination; ``vm`` filters on per-VM
rules; ``placement`` filters on where the other VMs are at that point of planning.
"""

from __future__ import annotations

from balancer.core.filters.affinity import AffinityFilter
from balancer.core.filters.anti_affinity import AntiAffinityFilter
from balancer.core.filters.base import Filter, FilterContext
from balancer.core.filters.capacity import CapacityFilter
from balancer.core.filters.cpu_features import CpuFeaturesFilter
from balancer.core.filters.cpu_model import CpuModelFilter
from balancer.core.filters.cpu_vendor import CpuVendorFilter
from balancer.core.filters.host_state import HostStateFilter
from balancer.core.filters.machine_type import MachineTypeFilter
from balancer.core.filters.network import NetworkFilter
from balancer.core.filters.numa import NumaFilter
from balancer.core.filters.passthrough import PassthroughFilter
from balancer.core.filters.pin import PinFilter
from balancer.core.filters.same_host import SameHostFilter
from balancer.core.filters.session_uri import SessionUriFilter
from balancer.core.filters.storage import StorageFilter
from balancer.core.filters.version_path import VersionPathFilter
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Verdict

REGISTRY: dict[str, Filter] = {
    f.NAME: f
    for f in (
        SameHostFilter(),
        HostStateFilter(),
        SessionUriFilter(),
        PassthroughFilter(),
        CpuVendorFilter(),
        CpuModelFilter(),
        CpuFeaturesFilter(),
        NumaFilter(),
        StorageFilter(),
        NetworkFilter(),
        VersionPathFilter(),
        MachineTypeFilter(),
        PinFilter(),
        CapacityFilter(),
        AffinityFilter(),
        AntiAffinityFilter(),
    )
}

HOST_FILTERS: tuple[Filter, ...] = tuple(f for f in REGISTRY.values() if f.KIND == "host")
VM_FILTERS: tuple[Filter, ...] = tuple(f for f in REGISTRY.values() if f.KIND == "vm")
PLACEMENT_FILTERS: tuple[Filter, ...] = tuple(f for f in REGISTRY.values() if f.KIND == "placement")


def first_rejection(filters: tuple[Filter, ...], vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
    """The first filter that refuses ``dest`` for ``vm``, or ``PASS``."""
    for f in filters:
        verdict = f.check(vm, dest, ctx)
        if not verdict.ok:
            return verdict
    return PASS


def all_verdicts(vm: Vm, dest: Host, ctx: FilterContext) -> list[tuple[str, Verdict]]:
    """Every filter's verdict on ``dest`` (for ``--explain``)."""
    return [(f.NAME, f.check(vm, dest, ctx)) for f in REGISTRY.values()]


__all__ = [
    "HOST_FILTERS",
    "PLACEMENT_FILTERS",
    "REGISTRY",
    "VM_FILTERS",
    "Filter",
    "FilterContext",
    "all_verdicts",
    "first_rejection",
]
