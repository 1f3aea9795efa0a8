"""The wave ordering parks a move refused by a rule that only a VM leaving the destination
can lift (room, anti-affinity) and asks it again after one has left; a placement rule
that does not declare it is asked every wave. Parking never changes the waves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancer.core import ordering
from balancer.core.filters import FilterContext, register, unregister
from balancer.core.filters.base import BoolArray, Checked, Cols, PlacementConstraint, unblocked_by
from balancer.core.models import AntiAffinityRule, Host, Rule, Snapshot, Vm
from balancer.core.ordering import Ordering, order_moves
from balancer.core.planning import Planning
from balancer.core.reasons import PASS, Reason, Verdict
from tests.unit.core.factories import NOW, host, snapshot, vm
from tests.unit.core.strategies import clusters


def _order(snap: Snapshot, finals: dict[str, str], budget: int | None = None) -> Ordering:
    """Order the moves of the VMs to ``finals`` (VM name → host name) from ``snap``."""
    p = Planning(snap, snap.policy, NOW)
    s = p.state
    for name, dest in finals.items():
        s.move(s.vm_index[name], s.host_index[dest])
    return order_moves(p, budget)


def _waves(result: Ordering, snap: Snapshot) -> dict[str, int]:
    return {snap.vms[m.vm].name: m.wave for m in result.moves}


def _four_hosts(rules: tuple[Rule, ...] = ()) -> Snapshot:
    return snapshot([host("a"), host("b"), host("c"), host("d")],
                    [vm("x", "a"), vm("y", "b"), vm("z", "c")], rules)  # fmt: skip


def test_a_move_refused_by_anti_affinity_runs_in_the_wave_after_the_other_vm_leaves() -> None:
    # x comes first in the order, is refused on b (y is there) and parked; y leaves b in
    # wave 1, so x is asked again and moves in wave 2 (not deadlocked, not later).
    snap = _four_hosts((AntiAffinityRule(vms=("x", "y")),))
    result = _order(snap, {"x": "b", "y": "c"})
    assert _waves(result, snap) == {"y": 1, "x": 2}
    assert result.deadlocked == ()


def test_a_move_refused_by_anti_affinity_waits_while_the_other_vm_stays() -> None:
    # z leaving c does not lift x's refusal on b: x stays refused, and is left over.
    snap = _four_hosts((AntiAffinityRule(vms=("x", "y")),))
    result = _order(snap, {"x": "b", "z": "d"})
    assert _waves(result, snap) == {"z": 1}
    assert [snap.vms[v].name for v in result.deadlocked] == ["x"]


class NotWhileZOnC:
    """Refuses host ``b`` to ``x`` while ``z`` runs on ``c``: a VM leaving another host
    than the destination lifts the refusal. It does not declare ``UNBLOCKED_BY``."""

    NAME: ClassVar[str] = "not-while-z-on-c"
    KIND: ClassVar[Literal["placement"]] = "placement"
    CHECKED: ClassVar[Checked] = "move"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        z_on_c = s.host_of(s.vm_index["z"]) == s.host_index["c"]
        if vm.name == "x" and dest.name == "b" and z_on_c:
            return Verdict.reject(Reason.CONSTRAINT, "x may not go to b while z is on c")
        return PASS

    def restrict(self, groups: object, ctx: FilterContext, cols: Cols, ok: BoolArray) -> None:
        raise AssertionError("the wave ordering asks check only")


class DeclaredLeave(NotWhileZOnC):
    """The same rule, wrongly declaring that only a VM leaving the destination lifts it."""

    UNBLOCKED_BY: ClassVar[Literal["leave"]] = "leave"


@pytest.fixture
def z_rule() -> Iterator[None]:
    register(NotWhileZOnC())
    try:
        yield
    finally:
        unregister(NotWhileZOnC.NAME)


@pytest.mark.usefixtures("z_rule")
def test_a_registered_rule_without_a_declaration_is_asked_every_wave() -> None:
    # Refused in wave 1 (z on c); z leaves c, not b: only asking again each wave sees it.
    snap = _four_hosts()
    result = _order(snap, {"x": "b", "z": "d"})
    assert _waves(result, snap) == {"z": 1, "x": 2}
    assert result.deadlocked == ()


def test_the_declaration_decides_the_parking() -> None:
    register(DeclaredLeave())
    try:
        assert unblocked_by(DeclaredLeave()) == "leave"
        snap = _four_hosts()
        result = _order(snap, {"x": "b", "z": "d"})
    finally:
        unregister(DeclaredLeave.NAME)
    # Parked on b, where no VM leaves: x is never asked again (the wrong declaration shows).
    assert [snap.vms[v].name for v in result.deadlocked] == ["x"]
    assert unblocked_by(NotWhileZOnC()) == "any"


def _never_parks(constraint: PlacementConstraint) -> Literal["any"]:
    return "any"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.data())
def test_parking_gives_the_waves_of_asking_every_move_every_wave(
    snap: Snapshot, data: st.DataObject
) -> None:
    # Random destinations (not the planner's), so rooms run out, anti-affinity refuses,
    # cycles deadlock and budgets cut: the same waves, left-overs and cuts, in order.
    names = [h.name for h in snap.hosts if h.state == "active"]
    finals = {v.name: data.draw(st.sampled_from(names)) for v in snap.vms if names}
    budget = data.draw(st.sampled_from([None, None, 0, 1, 3, 7]))
    parked = _order(snap, finals, budget)
    with mock.patch.object(ordering, "unblocked_by", _never_parks):
        asked = _order(snap, finals, budget)
    assert parked == asked
