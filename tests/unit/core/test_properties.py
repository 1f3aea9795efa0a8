"""Properties of every plan, on generated clusters (hypothesis)."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings

from balancer.core.cluster import ClusterState
from balancer.core.compat import CompatIndex
from balancer.core.filters import HOST_FILTERS, VM_FILTERS, FilterContext, first_rejection
from balancer.core.models import EMPTYING_STATES, Snapshot
from balancer.core.planner import plan
from balancer.core.rules import RuleIndex
from balancer.core.verify import violations
from tests.unit.core.strategies import clusters

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(clusters())
def test_no_plan_breaks_a_rule(snap: Snapshot) -> None:
    """No host over capacity, no filter violated, slots kept, power actions sound."""
    result = plan(snap)
    assert violations(snap, snap.policy, result) == []


@SETTINGS
@given(clusters())
def test_plans_are_deterministic(snap: Snapshot) -> None:
    assert msgspec.json.encode(plan(snap)) == msgspec.json.encode(plan(snap))


@SETTINGS
@given(clusters())
def test_evacuation_empties_the_hosts_or_says_why(snap: Snapshot) -> None:
    result = plan(snap)
    leaving = set(snap.policy.evacuate_hosts) | {
        h.name for h in snap.hosts if h.state in EMPTYING_STATES
    }
    moved = {m.vm for m in result.moves}
    reported = {u.vm for u in result.unmovable}
    for v in snap.vms:
        if v.host in leaving:
            assert v.name in moved or v.name in reported, v.name
    assert moved.isdisjoint(reported)
    assert all(m.source != m.to for m in result.moves)
    assert len(moved) == len(result.moves)  # one move per VM


@SETTINGS
@given(clusters())
def test_compat_index_equals_running_the_filters(snap: Snapshot) -> None:
    state = ClusterState(snap, snap.policy)
    ctx = FilterContext(state, RuleIndex.build(snap.rules), snap.policy)
    compat = CompatIndex(ctx)
    for guest in snap.vms:
        mask = compat.mask(guest)
        for i, h in enumerate(snap.hosts):
            dest = msgspec.structs.replace(h, state="active") if h.state == "off" else h
            ok = first_rejection(HOST_FILTERS + VM_FILTERS, guest, dest, ctx).ok
            assert bool(mask[i]) == ok, (guest.name, h.name)
