"""Which VMs a common CPU definition would make movable across a set of hosts (pure).

The guide's 12.4 procedure computes a baseline of the hosts' CPUs and puts it in a VM's
definition, so the VM runs anywhere in the set. A VM "becomes movable" when some host of
the set refuses its CPU now (the ``cpu-vendor``, ``cpu-model`` or ``cpu-features``
filter), and none would with the baseline as its CPU.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec

from balancer.core.cluster import ClusterState
from balancer.core.filters import REGISTRY, FilterContext
from balancer.core.models import GuestCpu, Snapshot, Vm
from balancer.core.rules import RuleIndex

CPU_FILTERS = ("cpu-vendor", "cpu-model", "cpu-features")


def _cpu_ok(vm: Vm, hosts: Collection[str], snapshot: Snapshot, ctx: FilterContext) -> bool:
    """Every host of ``hosts`` but the VM's own passes the CPU filters for ``vm``."""
    for host in snapshot.hosts:
        if host.name == vm.host or host.name not in hosts:
            continue
        if not all(REGISTRY[name].check(vm, host, ctx).ok for name in CPU_FILTERS):
            return False
    return True


def movable_with(snapshot: Snapshot, hosts: Collection[str], baseline: GuestCpu) -> list[str]:
    """VMs on ``hosts`` that some of the others refuse for their CPU now and none would
    with ``baseline`` (its domain type set to each VM's own), by name."""
    ctx = FilterContext(ClusterState(snapshot, snapshot.policy),
                        RuleIndex.build(snapshot.rules), snapshot.policy)  # fmt: skip
    out: list[str] = []
    for vm in snapshot.vms:
        if vm.host not in hosts or _cpu_ok(vm, hosts, snapshot, ctx):
            continue
        cpu = msgspec.structs.replace(baseline, virt_type=vm.cpu.virt_type)
        if _cpu_ok(msgspec.structs.replace(vm, cpu=cpu), hosts, snapshot, ctx):
            out.append(vm.name)
    return sorted(out)
