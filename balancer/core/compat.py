"""Which hosts could ever take a VM: the ``host`` and ``vm`` filters, for all hosts at once.

Running every filter for every (VM, host) pair is too slow for 10,000 hosts × 200,000
VMs, and needless: host filters read a few facts of the VM and its source, and a few of
the destination. VMs with the same facts share a *signature*, hosts with the same facts
a *class*; each filter runs once per (signature, class) and the answer is broadcast to
the class's hosts. ``tests/unit/test_compat.py`` checks this equals running the filters.

Hosts that are ``off`` are judged as if they were on, so the planner can tell which
powered-off host would take a VM; whether a host is on is the planner's business.
"""

from __future__ import annotations

from collections.abc import Hashable

import msgspec
import numpy as np
import numpy.typing as npt

from balancer.core.filters import HOST_FILTERS, FilterContext, first_rejection
from balancer.core.filters.session_uri import is_session_uri
from balancer.core.filters.version_path import major
from balancer.core.models import Host, Vm
from balancer.core.reasons import Verdict

BoolArray = npt.NDArray[np.bool_]


def host_class_key(host: Host, evacuating: bool, rewrite: Hashable = None) -> Hashable:
    """``rewrite``: the network names the policy's destination XML rewrite of this host
    maps, if any (it changes which networks the host offers a VM)."""
    state = "active" if host.state == "off" else host.state
    c = host.cpu
    return (
        rewrite,
        tuple(sorted(c.hypervisors.items())),
        c.physical,
        state,
        evacuating,
        is_session_uri(host.uri),
        c.vendor.lower(),
        c.model,
        c.models,
        frozenset(c.features),
        host.numa_nodes,
        frozenset(host.storage_pools),
        frozenset(host.networks),
        major(host.versions.qemu),
        major(host.versions.libvirt),
        frozenset(host.machine_types),
    )


def source_key(source: Host) -> Hashable:
    """What the host filters read of a VM's source host."""
    return (
        source.numa_nodes,
        major(source.versions.qemu),
        major(source.versions.libvirt),
        is_session_uri(source.uri),
    )


def vm_signature(vm: Vm, source: Hashable) -> Hashable:
    """What the host filters read of a VM (``source``: its source host's ``source_key``).
    Tuples, not sets: VMs listing the same facts in another order only cost a cache entry."""
    return (
        vm.state,
        vm.cpu,
        vm.numa_pinned,
        tuple((d.pool, d.shared, d.bytes) for d in vm.disks),
        vm.networks,
        vm.devices,
        vm.machine_type,
        source,
    )


class CompatIndex:
    """``mask(vm)``: hosts that pass every host and vm filter for ``vm`` (its own excluded)."""

    def __init__(self, ctx: FilterContext) -> None:
        self._ctx = ctx
        hosts = ctx.state.hosts
        evac = set(ctx.policy.evacuate_hosts)
        classes: dict[Hashable, int] = {}
        self._representatives: list[Host] = []
        class_of = np.empty(len(hosts), dtype=np.int64)
        rewrites = ctx.policy.destination_xml
        for i, h in enumerate(hosts):
            rw = rewrites.get(h.name)
            key = host_class_key(
                h, h.name in evac, tuple(sorted(rw.networks.items())) if rw else None
            )
            if key not in classes:
                classes[key] = len(classes)
                rep = msgspec.structs.replace(h, state="active") if h.state == "off" else h
                self._representatives.append(rep)
            class_of[i] = classes[key]
        self._class_of = class_of
        #: Signature -> hosts passing the host filters (shared, never mutated).
        self._cache: dict[Hashable, BoolArray] = {}
        self._signature: dict[str, Hashable] = {}
        self._sources: dict[str, Hashable] = {}
        self._host_index = ctx.state.host_index

    def signature(self, vm: Vm) -> Hashable:
        key = self._signature.get(vm.name)
        if key is None:
            source = self._sources.get(vm.host)
            if source is None:
                source = self._sources[vm.host] = source_key(self._ctx.source(vm))
            key = self._signature[vm.name] = vm_signature(vm, source)
        return key

    def hosts_passing(self, vm: Vm) -> BoolArray:
        """Hosts passing the host filters, the VM's own included (shared: do not modify)."""
        key = self.signature(vm)
        ok = self._cache.get(key)
        if ok is None:
            by_class = np.array(
                [self._judge(vm, rep).ok for rep in self._representatives], dtype=np.bool_
            )
            ok = self._cache[key] = by_class[self._class_of]
        return ok

    def _judge(self, vm: Vm, dest: Host) -> Verdict:
        return first_rejection(HOST_FILTERS, vm, dest, self._ctx)

    def mask(self, vm: Vm) -> BoolArray:
        """Hosts passing the host filters, then the vm filters (same host, pin rules)."""
        ok = self.hosts_passing(vm).copy()
        ok[self._host_index[vm.host]] = False
        pinned = self._ctx.rules.pins.get(vm.name)
        if pinned is not None:
            allowed = np.zeros(len(ok), dtype=np.bool_)
            for name in pinned:
                if name in self._host_index:
                    allowed[self._host_index[name]] = True
            ok &= allowed
        return ok
