"""An objective added from outside the core (one class, one ``register`` call) is offered
by ``balancer plan --objective``, planned, verified and explained, accepted by the policy
and listed by the JSON Schema; removing it withdraws it everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import msgspec
import numpy as np
import pytest
from click.testing import CliRunner

from balancer.cli.main import main
from balancer.core import objectives
from balancer.core.explain import explain
from balancer.core.models import Policy
from balancer.core.plan import MoveReason
from balancer.core.planner import plan
from balancer.core.planning import Planning
from balancer.core.verify import violations
from balancer.core.weighers import SPREAD, choose
from balancer.errors import PluginError
from balancer.schema import generate
from tests.unit.core.factories import host, snapshot, vm
from workers.celery_app import move_priority


class EmptyLastHost:
    """Empty the last active host that holds VMs (a "retire it" objective)."""

    NAME: ClassVar[str] = "empty-last"
    REASON: ClassVar[MoveReason] = MoveReason.BALANCE
    PRIORITY: ClassVar[int] = 7
    POWERS_OFF: ClassVar[bool] = True
    LISTS_UNMOVABLE: ClassVar[bool] = True

    def run(self, p: Planning) -> None:
        s = p.state
        busy = [int(h) for h in np.flatnonzero(p.accepting) if s.members[int(h)]]
        last = busy[-1]
        p.accepting[last] = False
        for v in sorted(s.members[last]):
            item = p.item_of[v]
            mask = p.candidates(item)
            if p.can_move(item) and mask.any():
                why = (MoveReason.BALANCE, f"retire {s.hosts[last].name}")
                p.place(item, choose(p, item, mask, SPREAD), why)
        p.accepting[last] = True


@pytest.fixture
def registered() -> Iterator[None]:
    objectives.register(EmptyLastHost())
    yield
    objectives.unregister(EmptyLastHost.NAME)


SNAP = snapshot(
    [host("a"), host("b"), host("c")],
    [vm("v1", "a"), vm("v2", "b"), vm("w1", "c"), vm("w2", "c")],
)


def test_a_registered_objective_is_planned_verified_and_explained(registered: None) -> None:
    policy = Policy(objective="empty-last")
    result = plan(SNAP, policy)
    assert {m.vm for m in result.moves} == {"w1", "w2"}
    assert all(m.source == "c" and m.detail == "retire c" for m in result.moves)
    assert [(a.host, a.action) for a in result.power] == [("c", "off")]
    assert violations(SNAP, policy, result) == []
    why = explain(SNAP, policy, "w1", result)
    assert why.vm == "w1"
    assert move_priority(MoveReason.BALANCE) == objectives.REGISTRY["balance"].PRIORITY


def test_the_cli_offers_and_plans_a_registered_objective(registered: None, tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_bytes(msgspec.json.encode(SNAP))
    runner = CliRunner()
    r = runner.invoke(main, ["plan", "--help"])
    assert "empty-last" in r.output
    r = runner.invoke(
        main, ["plan", "--snapshot", str(path), "--objective", "empty-last", "--format", "json"]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["summary"]["objective"] == "empty-last"
    assert {m["vm"] for m in doc["moves"]} == {"w1", "w2"}
    r = runner.invoke(main, ["plan", "--snapshot", str(path), "--explain", "w1",
                             "--objective", "empty-last"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "w1" in r.output


def test_the_policy_and_the_schema_follow_the_registry(registered: None) -> None:
    decoded = msgspec.json.decode(b'{"objective": "empty-last"}', type=Policy)
    assert decoded.objective == "empty-last"
    enum = generate()["$defs"]["Policy"]["properties"]["objective"]["enum"]
    assert enum == ["balance", "consolidate", "evacuate", "empty-last"]


def test_an_unregistered_objective_is_refused_everywhere() -> None:
    with pytest.raises(msgspec.ValidationError, match="objective: Invalid enum value"):
        msgspec.json.decode(b'{"objective": "empty-last"}', type=Policy)
    assert "empty-last" not in generate()["$defs"]["Policy"]["properties"]["objective"]["enum"]
    r = CliRunner().invoke(main, ["plan", "--objective", "empty-last"])
    assert r.exit_code == 2
    assert "empty-last" in r.output


class Replace:
    """An objective whose moves carry the replacement reason, at its own priority."""

    NAME: ClassVar[str] = "replace-now"
    REASON: ClassVar[MoveReason] = MoveReason.REPLACEMENT
    PRIORITY: ClassVar[int] = 3
    POWERS_OFF: ClassVar[bool] = False
    LISTS_UNMOVABLE: ClassVar[bool] = True

    def run(self, p: Planning) -> None:
        """Moves nothing (only its priority is under test)."""


def test_the_celery_priorities_follow_the_registry() -> None:
    for objective in objectives.REGISTRY.values():
        assert move_priority(objective.REASON) == objective.PRIORITY
    assert move_priority(MoveReason.REPLACEMENT) == 9  # energy saving, by default
    objectives.register(Replace())
    try:
        assert move_priority(MoveReason.REPLACEMENT) == 3
    finally:
        objectives.unregister(Replace.NAME)
    assert move_priority(MoveReason.REPLACEMENT) == 9


def test_registering_twice_or_removing_a_built_in_one_is_refused() -> None:
    with pytest.raises(PluginError, match="already registered"):
        objectives.register(objectives.REGISTRY["balance"])
    with pytest.raises(PluginError, match="built in"):
        objectives.unregister("balance")
