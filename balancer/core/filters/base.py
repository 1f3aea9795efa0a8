"""What a filter is: can VM ``vm`` run on host ``dest``? A verdict with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from balancer.core.cluster import ClusterState
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import Verdict
from balancer.core.rules import RuleIndex

#: ``host``: depends only on the VM's own facts, its source and the destination (cached
#: per kind of VM and kind of host); ``vm``: per-VM rules; ``placement``: depends on
#: where the other VMs are at this point of planning.
FilterKind = Literal["host", "vm", "placement"]


@dataclass(frozen=True)
class FilterContext:
    state: ClusterState
    rules: RuleIndex
    policy: Policy

    def source(self, vm: Vm) -> Host:
        """The host the VM runs on in the snapshot (where a migration starts)."""
        return self.state.hosts[int(self.state.original_host[self.state.vm_index[vm.name]])]


class Filter(Protocol):
    NAME: ClassVar[str]
    KIND: ClassVar[FilterKind]

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict: ...
