"""Each constraint's fast answers equal its per-pair answer (hypothesis, random clusters).

- ``vm`` and ``placement`` constraints: ``restrict`` over all hosts and over a column
  subset clears exactly the cells ``check`` refuses, after random moves (some hosts
  overloaded, some VMs taken off their host) so that placement state matters.
- ``host`` constraints: two (VM, host) pairs alike in every fact the constraint declares
  (``READS``) get the same answer — a fact read but not declared would split them.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancer.core.cluster import ClusterState
from balancer.core.compat import as_on, facts_reader
from balancer.core.filters import (
    FilterContext,
    host_constraints,
    placement_constraints,
    vm_constraints,
)
from balancer.core.filters.base import applies
from balancer.core.models import Snapshot
from balancer.core.rules import RuleIndex
from tests.unit.core.strategies import clusters

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _context(snap: Snapshot, data: st.DataObject) -> FilterContext:
    """The snapshot's state after a few random moves (and VMs taken off their host)."""
    state = ClusterState(snap, snap.policy)
    n_hosts, n_vms = len(snap.hosts), len(snap.vms)
    for _ in range(data.draw(st.integers(0, 6 if n_vms else 0), label="moves")):
        v = data.draw(st.integers(0, n_vms - 1), label="vm")
        if data.draw(st.booleans(), label="unplace"):
            state.unplace(v)
        else:
            state.move(v, data.draw(st.integers(0, n_hosts - 1), label="to"))
    return FilterContext(state, RuleIndex.build(snap.rules), snap.policy)


def _columns(snap: Snapshot, data: st.DataObject) -> np.ndarray:
    picked = data.draw(
        st.lists(st.integers(0, len(snap.hosts) - 1), min_size=1, max_size=len(snap.hosts)),
        label="cols",
    )
    return np.array(picked, dtype=np.int64)


@SETTINGS
@given(clusters(), st.data())
def test_vm_constraint_masks_equal_their_checks(snap: Snapshot, data: st.DataObject) -> None:
    ctx = _context(snap, data)
    cols = _columns(snap, data)
    vms = list(range(len(snap.vms)))
    for c in vm_constraints():
        for columns in (None, cols):
            hosts = range(len(snap.hosts)) if columns is None else columns
            ok = np.ones((len(vms), len(hosts)), dtype=np.bool_)
            c.restrict(vms, ctx, columns, ok)
            for r, guest in enumerate(snap.vms):
                for k, h in enumerate(hosts):
                    want = c.check(guest, snap.hosts[int(h)], ctx).ok
                    assert bool(ok[r, k]) == want, (c.NAME, guest.name, int(h))


@SETTINGS
@given(clusters(), st.data())
def test_placement_constraint_masks_equal_their_checks(snap: Snapshot, data: st.DataObject) -> None:
    ctx = _context(snap, data)
    cols = _columns(snap, data)
    groups = [(i,) for i in range(len(snap.vms))]
    for c in placement_constraints():
        for columns in (None, cols):
            hosts = range(len(snap.hosts)) if columns is None else columns
            ok = np.ones((len(groups), len(hosts)), dtype=np.bool_)
            c.restrict(groups, ctx, columns, ok)
            for (v,) in groups:
                for k, h in enumerate(hosts):
                    want = c.check(snap.vms[v], snap.hosts[int(h)], ctx).ok
                    assert bool(ok[v, k]) == want, (c.NAME, snap.vms[v].name, int(h))
                    # a rule that says it does not apply here refuses nothing
                    assert want or applies(c, ctx), (c.NAME, snap.vms[v].name, int(h))


@SETTINGS
@given(clusters())
def test_host_constraints_read_only_the_facts_they_declare(snap: Snapshot) -> None:
    state = ClusterState(snap, snap.policy)
    ctx = FilterContext(state, RuleIndex.build(snap.rules), snap.policy)
    hosts = [as_on(h) for h in snap.hosts]
    for c in host_constraints():
        of_vm = facts_reader(c.READS.vm)
        of_host = facts_reader(c.READS.source, snap.policy)
        of_dest = facts_reader(c.READS.dest, snap.policy)
        answers: dict[tuple[Hashable, Hashable], tuple[bool, str, str]] = {}
        for guest in snap.vms:
            signature = (of_vm(guest), of_host(ctx.source(guest)))
            for dest in hosts:
                key = (signature, of_dest(dest))
                ok = c.check(guest, dest, ctx).ok
                seen = answers.setdefault(key, (ok, guest.name, dest.name))
                assert seen[0] == ok, (c.NAME, seen[1:], (guest.name, dest.name))
