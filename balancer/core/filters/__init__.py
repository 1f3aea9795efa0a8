"""The constraints, registered in one table (order: cheapest and most telling first).

Each constraint answers "can this VM run on that host?" with a ``Verdict``. ``host``
constraints depend only on the VM's facts, its source and the destination; ``vm`` ones on
per-VM rules; ``placement`` ones on where the other VMs are at that point of planning
(see ``base.py``). The planner, the wave ordering, ``verify`` and ``explain`` all ask this
table, so a rule added with ``register`` is enforced by all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import cast, overload

from balancer.core.filters.affinity import AffinityFilter
from balancer.core.filters.anti_affinity import AntiAffinityFilter
from balancer.core.filters.base import (
    Constraint,
    Filter,
    FilterContext,
    FilterKind,
    HostConstraint,
    PlacementConstraint,
    Reads,
    VmConstraint,
)
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
from balancer.errors import PluginError

REGISTRY: dict[str, Constraint] = {
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


def register(constraint: Constraint) -> None:
    """Add a constraint (after the built-in ones); every consumer enforces it from now on.
    A name already taken is an error: ``unregister`` it first to replace it."""
    if constraint.NAME in REGISTRY:
        raise PluginError(f"a constraint named {constraint.NAME!r} is registered already")
    if constraint.KIND not in ("host", "vm", "placement"):
        raise PluginError(f"constraint {constraint.NAME!r} has an unknown kind {constraint.KIND!r}")
    REGISTRY[constraint.NAME] = constraint


def unregister(name: str) -> Constraint:
    """Remove a constraint by name and return it."""
    return REGISTRY.pop(name)


class KindView(Sequence[Constraint]):
    """The registered constraints of one kind, in registry order (read when used)."""

    def __init__(self, kind: FilterKind) -> None:
        self.kind = kind

    def current(self) -> tuple[Constraint, ...]:
        return tuple(f for f in REGISTRY.values() if self.kind == f.KIND)

    @overload
    def __getitem__(self, i: int) -> Constraint: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Constraint]: ...
    def __getitem__(self, i: int | slice) -> Constraint | Sequence[Constraint]:
        return self.current()[i]

    def __len__(self) -> int:
        return len(self.current())

    def __iter__(self) -> Iterator[Constraint]:
        return iter(self.current())

    def __add__(self, other: Iterable[Constraint]) -> tuple[Constraint, ...]:
        return (*self.current(), *other)


HOST_FILTERS = KindView("host")
VM_FILTERS = KindView("vm")
PLACEMENT_FILTERS = KindView("placement")


def host_constraints() -> tuple[HostConstraint, ...]:
    return cast(tuple[HostConstraint, ...], HOST_FILTERS.current())


def vm_constraints() -> tuple[VmConstraint, ...]:
    return cast(tuple[VmConstraint, ...], VM_FILTERS.current())


def placement_constraints() -> tuple[PlacementConstraint, ...]:
    return cast(tuple[PlacementConstraint, ...], PLACEMENT_FILTERS.current())


def first_rejection(
    filters: Iterable[Constraint], vm: Vm, dest: Host, ctx: FilterContext
) -> Verdict:
    """The first constraint that refuses ``dest`` for ``vm``, or ``PASS``."""
    for f in filters:
        verdict = f.check(vm, dest, ctx)
        if not verdict.ok:
            return verdict
    return PASS


def all_verdicts(vm: Vm, dest: Host, ctx: FilterContext) -> list[tuple[str, Verdict]]:
    """Every constraint's verdict on ``dest`` (for ``--explain``)."""
    return [(f.NAME, f.check(vm, dest, ctx)) for f in REGISTRY.values()]


__all__ = [
    "HOST_FILTERS",
    "PLACEMENT_FILTERS",
    "REGISTRY",
    "VM_FILTERS",
    "Constraint",
    "Filter",
    "FilterContext",
    "HostConstraint",
    "PlacementConstraint",
    "Reads",
    "VmConstraint",
    "all_verdicts",
    "first_rejection",
    "host_constraints",
    "placement_constraints",
    "register",
    "unregister",
    "vm_constraints",
]
