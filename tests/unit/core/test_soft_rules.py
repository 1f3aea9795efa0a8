"""Soft rules (affinity, anti-affinity, a pin "prefer these hosts") are weighed in every
objective, and a VM that moves anyway goes where its soft rules prefer (correcting an
existing soft violation); soft rules never make a move by themselves."""

from __future__ import annotations

import pytest

from balancer.core.models import AffinityRule, AntiAffinityRule, PinRule, Rule, Snapshot, Vm
from balancer.core.plan import Plan
from balancer.core.planner import plan
from balancer.core.rules import RuleIndex
from balancer.core.verify import violations
from tests.unit.core.factories import NOW, host, snapshot, vm

HOSTS = ("a", "b", "c", "d")
#: Recently migrated: in its cooldown, it stays (so only the VM under test moves).
STAYS = {"last_migrated_at": NOW - 10}


def _planned(snap: Snapshot) -> dict[str, str]:
    result: Plan = plan(snap)
    assert violations(snap, snap.policy, result) == []
    return {m.vm: m.to for m in result.moves}


def _soft(kind: str, preferred: str, avoided: str) -> tuple[Rule, ...]:
    """A soft rule of ``kind`` for VM ``x``: prefer host ``preferred`` (pin), prefer the
    companion ``y`` (placed on ``preferred``), or avoid ``z`` (placed on ``avoided``)."""
    if kind == "pin":
        return (PinRule(vm="x", hosts=(preferred,), hard=False),)
    if kind == "affinity":
        return (AffinityRule(vms=("x", "y"), hard=False),)
    return (AntiAffinityRule(vms=("x", "z"), hard=False),)


def _companions(preferred: str, avoided: str, **kw: object) -> list[Vm]:
    return [vm("y", preferred, **STAYS, **kw), vm("z", avoided, **STAYS, **kw)]


KINDS = ("pin", "affinity", "anti-affinity")


def _evacuation(rules: tuple[Rule, ...], preferred: str, avoided: str) -> Snapshot:
    # b is the emptiest host: evacuation's spread weighers alone would send x there.
    vms = [vm("x", "a"), *_companions(preferred, avoided)]
    vms += [vm(f"c{i}", "c", **STAYS) for i in range(2)]
    vms += [vm(f"d{i}", "d", **STAYS) for i in range(3)]
    return snapshot([host(h) for h in HOSTS], vms, rules, objective="evacuate",
                    evacuate_hosts=("a",))  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_evacuation_weighs_each_soft_rule(kind: str) -> None:
    plain = _planned(_evacuation((), "c", "b"))
    assert plain == {"x": "b"}  # without the rule: the emptiest host
    assert _planned(_evacuation(_soft(kind, "c", "b"), "c", "b")) == {"x": "c"}


def _consolidation(rules: tuple[Rule, ...], preferred: str, avoided: str) -> Snapshot:
    # a and b hold the load (two hosts are needed); a is the fuller one, so best fit
    # alone would put x there; c and d are emptied.
    big = {"memory_mib": 16384, **STAYS}
    vms = [vm(f"a{i}", "a", **big) for i in range(3)]
    vms += [vm(f"b{i}", "b", **{**big, "memory_mib": 15000}) for i in range(3)]
    vms += [vm("x", "c"), vm("y", preferred, **STAYS), vm("z", avoided, **STAYS)]
    return snapshot([host(h) for h in HOSTS], vms, rules, objective="consolidate")


@pytest.mark.parametrize("kind", KINDS)
def test_consolidation_weighs_each_soft_rule(kind: str) -> None:
    assert _planned(_consolidation((), "b", "a"))["x"] == "a"
    assert _planned(_consolidation(_soft(kind, "b", "a"), "b", "a"))["x"] == "b"


def _balance(rules: tuple[Rule, ...], preferred: str, avoided: str) -> Snapshot:
    # a is overloaded; x is the only VM that may leave it; b is the emptiest host.
    vms = [vm("x", "a", cpu_used=2.0)]
    vms += [vm(f"a{i}", "a", cpu_used=2.0, **STAYS) for i in range(7)]
    vms += [vm(f"c{i}", "c", cpu_used=1.0, **STAYS) for i in range(2)]
    vms += [vm(f"d{i}", "d", cpu_used=1.0, **STAYS) for i in range(3)]
    vms += _companions(preferred, avoided, cpu_used=0.5)
    return snapshot([host(h) for h in HOSTS], vms, rules, objective="balance",
                    move_cost_per_s=0.0)  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_balance_weighs_each_soft_rule(kind: str) -> None:
    assert _planned(_balance((), "c", "b")) == {"x": "b"}
    assert _planned(_balance(_soft(kind, "c", "b"), "c", "b")) == {"x": "c"}


@pytest.mark.parametrize("objective", ["evacuate", "consolidate", "balance"])
def test_existing_soft_anti_affinity_is_corrected_when_both_move_anyway(objective: str) -> None:
    """x and z share host c against a soft anti-affinity rule; both leave c (evacuated, or
    emptied by consolidation): they land apart although one host could take both."""
    vms = [vm("x", "c"), vm("z", "c")]
    vms += [vm(f"a{i}", "a", memory_mib=16384, **STAYS) for i in range(3)]
    vms += [vm(f"b{i}", "b", memory_mib=15000, **STAYS) for i in range(3)]
    policy = {"evacuate_hosts": ("c",)} if objective != "consolidate" else {}
    rule = (AntiAffinityRule(vms=("x", "z"), hard=False),)
    hosts = [host(h) for h in ("a", "b", "c")]
    if objective == "consolidate":  # best fit alone stacks them on one host
        together = _planned(snapshot(hosts, vms, (), objective=objective, **policy))
        assert together["x"] == together["z"]
    apart = _planned(snapshot(hosts, vms, rule, objective=objective, **policy))
    assert {apart["x"], apart["z"]} == {"a", "b"}


@pytest.mark.parametrize("kind", KINDS)
def test_balance_never_moves_for_a_soft_rule_alone(kind: str) -> None:
    """An even cluster where x sits away from what its soft rule prefers: no move."""
    vms = [vm("x", "a"), vm("y", "c"), vm("z", "a")]
    vms += [vm(f"{h}{i}", h) for h in HOSTS for i in range(3)]
    vms = [v for v in vms if v.name not in ("a0", "c0")]
    snap = snapshot([host(h) for h in HOSTS], vms, _soft(kind, "c", "a"), move_cost_per_s=0.0)
    assert _planned(snap) == {}


def test_a_soft_pin_binds_nothing() -> None:
    index = RuleIndex.build((PinRule(vm="x", hosts=("c",), hard=False),))
    assert index.pins == {}
    assert index.prefer_hosts == {"x": frozenset({"c"})}
    assert index.soft_vms() == {"x"}
