"""What a constraint is: can VM ``vm`` run on host ``dest``? A verdict with a reason.

A constraint is one object. It answers for one (VM, host) pair with ``check`` — the
only definition of its rule — and, by its kind, for many hosts at once:

- ``host``: reads only facts of the VM, of its source host and of the destination, and
  says which in ``READS``. The compatibility index (``balancer/core/compat.py``) runs
  ``check`` once per kind of VM and kind of host, the kinds keyed by those facts: a fact
  read but not declared would make cached answers wrong (the property tests hold the
  index to ``check`` on random clusters).
- ``vm``: per-VM rules (pins, the own host); ``restrict`` answers for VMs (rows) over
  hosts (columns) at once, clearing the cells of a mask it refuses.
- ``placement``: depends on where the other VMs are at this point of planning;
  ``restrict`` answers for groups of VMs moving together (rows) over hosts (columns).
  ``CHECKED`` says when a plan's replay (the wave ordering, ``verify``) asks it, and
  ``UNBLOCKED_BY`` (optional) what can turn its refusal into an acceptance: ``"leave"``,
  only a VM leaving the destination (the wave ordering then asks again only after one
  has); ``"any"``, the default, anything (asked again every wave). A rule that can
  refuse nothing in some clusters (a rule kind the snapshot has none of) may say so with
  ``applies(ctx)`` (optional; without it the rule always applies): the objectives then
  skip asking it where speed matters.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import numpy as np
import numpy.typing as npt

from balancer.core.cluster import ClusterState
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import Verdict
from balancer.core.rules import RuleIndex

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: The hosts a mask has columns for: host indices, or ``None``: every host, in order.
Cols = IntArray | None

FilterKind = Literal["host", "vm", "placement"]
#: When a replay checks a placement constraint: before each ``move``; on each
#: destination once the ``wave`` has landed (room: VMs leaving in the wave make it); or
#: at the ``end`` of the plan (a hard-affinity group may move over several waves).
Checked = Literal["move", "wave", "end"]
#: What can turn a placement constraint's refusal of (VM, destination) into an
#: acceptance: ``leave``: only a VM leaving that destination; ``any``: anything.
Unblocked = Literal["leave", "any"]

#: A fact of a VM: an attribute path (``"cpu.vendor"``) or a function of the VM.
VmFact = str | Callable[[Vm], Hashable]
#: A fact of a host (the VM's source or the destination): an attribute path or a
#: function of the host and the policy (e.g. whether the policy evacuates it).
HostFact = str | Callable[[Host, Policy], Hashable]


@dataclass(frozen=True)
class Reads:
    """The facts a ``host`` constraint reads, each hashable. Facts several constraints
    share are read once when the same path or the same function is declared."""

    vm: tuple[VmFact, ...] = ()
    source: tuple[HostFact, ...] = ()
    dest: tuple[HostFact, ...] = ()


@dataclass(frozen=True)
class FilterContext:
    state: ClusterState
    rules: RuleIndex
    policy: Policy

    def source(self, vm: Vm) -> Host:
        """The host the VM runs on in the snapshot (where a migration starts)."""
        return self.state.hosts[int(self.state.original_host[self.state.vm_index[vm.name]])]


class HostConstraint(Protocol):
    NAME: ClassVar[str]
    KIND: ClassVar[Literal["host"]]
    READS: ClassVar[Reads]

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict: ...


class VmConstraint(Protocol):
    NAME: ClassVar[str]
    KIND: ClassVar[Literal["vm"]]

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict: ...

    def restrict(self, vms: Sequence[int], ctx: FilterContext, cols: Cols, ok: BoolArray) -> None:
        """Clear the cells of ``ok`` (rows: the VMs ``vms``, by index; columns: the hosts
        ``cols``) whose ``check(vm, host)`` refuses; leave the others."""
        ...


class PlacementConstraint(Protocol):
    NAME: ClassVar[str]
    KIND: ClassVar[Literal["placement"]]
    CHECKED: ClassVar[Checked]

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict: ...

    def restrict(
        self, groups: Sequence[Sequence[int]], ctx: FilterContext, cols: Cols, ok: BoolArray
    ) -> None:
        """Clear the cells of ``ok`` (rows: groups of VMs by index that move together;
        columns: the hosts ``cols``) where the group may not land now. For a group of
        one VM, a cell is cleared exactly when ``check(vm, host)`` refuses."""
        ...


def applies(constraint: PlacementConstraint, ctx: FilterContext) -> bool:
    """Whether a placement constraint can refuse anything here (its ``applies(ctx)``;
    one that does not declare it always can)."""
    declared = getattr(constraint, "applies", None)
    return True if declared is None else bool(declared(ctx))


def unblocked_by(constraint: PlacementConstraint) -> Unblocked:
    """A placement constraint's ``UNBLOCKED_BY``; one that does not declare it is ``any``."""
    return "leave" if getattr(constraint, "UNBLOCKED_BY", "any") == "leave" else "any"


def among(cols: Cols, ctx: FilterContext, hosts: Iterable[int]) -> BoolArray:
    """Per column: is its host one of ``hosts`` (indices; ``UNPLACED`` is none)?"""
    wanted = [h for h in hosts if h >= 0]
    if cols is None:
        ok = np.zeros(len(ctx.state.hosts), dtype=np.bool_)
        ok[wanted] = True
        return ok
    ok = np.zeros(len(cols), dtype=np.bool_)
    for h in wanted:
        ok |= cols == h
    return ok


def outside(
    group: Sequence[int], rule: Mapping[str, frozenset[str]], ctx: FilterContext
) -> set[int]:
    """The VMs (by index) that ``rule`` ties to a member of ``group`` but are not in it."""
    s = ctx.state
    return {
        o
        for v in group
        for o in (s.vm_index[n] for n in rule.get(s.vms[v].name, ()))
        if o not in group
    }


def columns_of(cols: Cols, host: int) -> IntArray:
    """The columns of host index ``host`` (none for ``UNPLACED``)."""
    if cols is None:
        return np.array([host] if host >= 0 else [], dtype=np.int64)
    return np.flatnonzero(cols == host)


Constraint = HostConstraint | VmConstraint | PlacementConstraint
#: The former name of a constraint (one per file in this folder).
Filter = Constraint
