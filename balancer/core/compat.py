"""Which hosts could ever take a VM: the ``host`` and ``vm`` filters, for all hosts at once.

Running every filter for every (VM, host) pair is too slow for 10,000 hosts × 200,000
VMs, and needless: host filters read a few facts of the VM and its source, and a few of
the destination. VMs with the same facts share a *signature*, hosts with the same facts
a *class*; each filter runs once per (signature, class) and the answer is broadcast to
the class's hosts. The signature and the class are the facts the registered ``host``
constraints declare they read (``READS``), nothing kept by hand here;
``tests/unit/core/test_properties.py`` checks this equals running the constraints.

Hosts that are ``off`` are judged as if they were on, so the planner can tell which
powered-off host would take a VM; whether a host is on is the planner's business.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import reduce
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from balancer.core.filters import (
    FilterContext,
    first_rejection,
    host_constraints,
    vm_constraints,
)
from balancer.core.filters.base import Cols, HostFact, VmFact
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import Verdict

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def _unique(facts: Sequence[Any]) -> list[Any]:
    """Each fact once: paths by value, functions by identity, in declaration order."""
    seen: set[Hashable] = set()
    out: list[Any] = []
    for f in facts:
        key = f if isinstance(f, str) else id(f)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def facts_reader(facts: Sequence[Any], *extra: Any) -> Callable[[Any], Hashable]:
    """A function reading every fact of an object, as one tuple."""
    facts = _unique(facts)
    paths = [f for f in facts if isinstance(f, str)]
    funcs = [f for f in facts if not isinstance(f, str)]
    names = [p for p in paths if "." not in p]
    getters = [_path(p) for p in paths if "." in p]
    return lambda x: (
        *[getattr(x, n) for n in names],
        *[g(x) for g in getters],
        *[f(x, *extra) for f in funcs],
    )


def _path(path: str) -> Callable[[Any], Hashable]:
    """Reads an attribute path (``"cpu.vendor"``) of an object."""
    first, *rest = path.split(".")
    if not rest:
        return lambda x: getattr(x, first)
    return lambda x: reduce(getattr, rest, getattr(x, first))


def _vm_reader(facts: Sequence[VmFact]) -> Callable[[Vm], Hashable]:
    return facts_reader(facts)


def _host_reader(facts: Sequence[HostFact], policy: Policy) -> Callable[[Host], Hashable]:
    return facts_reader(facts, policy)


def as_on(host: Host) -> Host:
    """A host that is off, judged as if it were on (whether it is on is the planner's)."""
    return msgspec.structs.replace(host, state="active") if host.state == "off" else host


class CompatIndex:
    """``mask(vm)``: hosts that pass every host and vm constraint for ``vm``."""

    def __init__(self, ctx: FilterContext) -> None:
        self._ctx = ctx
        self._host_rules = host_constraints()
        self._vm_rules = vm_constraints()
        reads = [c.READS for c in self._host_rules]
        policy = ctx.policy
        #: What the constraints read of a VM, of its source, of a destination.
        self.vm_facts = _vm_reader([f for r in reads for f in r.vm])
        self.source_facts = _host_reader([f for r in reads for f in r.source], policy)
        self.dest_facts = _host_reader([f for r in reads for f in r.dest], policy)
        hosts = ctx.state.hosts
        classes: dict[Hashable, int] = {}
        self._representatives: list[Host] = []
        class_of = np.empty(len(hosts), dtype=np.int64)
        for i, h in enumerate(hosts):
            rep = as_on(h)
            key = self.dest_facts(rep)
            if key not in classes:
                classes[key] = len(classes)
                self._representatives.append(rep)
            class_of[i] = classes[key]
        self._class_of = class_of
        #: Signature -> hosts passing the host constraints (shared, never mutated).
        self._cache: dict[Hashable, BoolArray] = {}
        self._signature: dict[str, Hashable] = {}
        self._sources: dict[str, Hashable] = {}

    def signature(self, vm: Vm) -> Hashable:
        """The facts the host constraints read of the VM and of its source."""
        key = self._signature.get(vm.name)
        if key is None:
            source = self._sources.get(vm.host)
            if source is None:
                source = self._sources[vm.host] = self.source_facts(self._ctx.source(vm))
            key = self._signature[vm.name] = (self.vm_facts(vm), source)
        return key

    def hosts_passing(self, vm: Vm) -> BoolArray:
        """Hosts passing the host constraints, the VM's own included (shared: do not modify)."""
        key = self.signature(vm)
        ok = self._cache.get(key)
        if ok is None:
            by_class = np.array(
                [self._judge(vm, rep).ok for rep in self._representatives], dtype=np.bool_
            )
            ok = self._cache[key] = by_class[self._class_of]
        return ok

    def _judge(self, vm: Vm, dest: Host) -> Verdict:
        return first_rejection(self._host_rules, vm, dest, self._ctx)

    def mask_many(self, vms: Sequence[int], cols: Cols) -> BoolArray:
        """Hosts of ``cols`` (columns) passing the host constraints, then the vm ones
        (same host, pin rules), for each VM (rows, by index)."""
        guests = self._ctx.state.vms
        if len(vms) == 1:
            one = self.hosts_passing(guests[vms[0]])
            ok = (one.copy() if cols is None else one[cols])[None, :]
        else:
            by_signature: dict[Hashable, BoolArray] = {}
            rows = []
            for v in vms:
                key = self.signature(guests[v])
                row = by_signature.get(key)
                if row is None:
                    row = self.hosts_passing(guests[v])
                    row = by_signature[key] = row if cols is None else row[cols]
                rows.append(row)
            width = len(self._class_of) if cols is None else len(cols)
            ok = np.vstack(rows) if rows else np.ones((0, width), dtype=np.bool_)
        for c in self._vm_rules:
            c.restrict(vms, self._ctx, cols, ok)
        return ok

    def mask(self, vm: Vm) -> BoolArray:
        """Hosts passing the host constraints, then the vm ones, for one VM."""
        ok: BoolArray = self.mask_many([self._ctx.state.vm_index[vm.name]], None)[0]
        return ok
