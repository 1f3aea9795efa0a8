"""``compose``: moves and power actions chosen elsewhere, ordered into one plan under the
slots; nothing validated is lost silently."""

from __future__ import annotations

import msgspec

from balancer.core.compose import Chosen, Switch, compose, composition_policy, empty_plan
from balancer.core.models import Slots, Snapshot
from balancer.core.plan import MoveReason, PowerReason
from balancer.core.planner import plan
from balancer.core.verify import violations
from tests.unit.core.factories import host, snapshot, vm


def _cluster(cluster_slots: int = 3, headroom: float = 0.1) -> Snapshot:
    """h0 and h1 hold three 1-core VMs each; h2, h3 empty; h4 off (16 cores each)."""
    hosts = [host(f"h{i}") for i in range(4)] + [host("h4", state="off")]
    vms = [vm(f"a{k}", "h0") for k in range(3)] + [vm(f"b{k}", "h1") for k in range(3)]
    return snapshot(
        hosts,
        vms,
        headroom=headroom,
        slots=Slots(outbound_per_host=3, inbound_per_host=3, cluster=cluster_slots),
    )


def test_two_intents_moves_share_waves_under_the_cluster_cap() -> None:
    snap = _cluster()
    relief = [Chosen(f"a{k}", "h2", MoveReason.RELIEF) for k in range(3)]
    packing = [Chosen(f"b{k}", "h3", MoveReason.CONSOLIDATION) for k in range(3)]
    result = compose(snap, snap.policy, relief + packing, [])
    assert len(result.moves) == 6
    waves: dict[int, list[str]] = {}
    for m in result.moves:
        waves.setdefault(m.wave, []).append(m.vm)
    assert all(len(v) <= 3 for v in waves.values())
    assert waves[1] == ["a0", "a1", "a2"]  # relief first: it outranks energy saving
    assert {m.reason for m in result.moves if m.vm.startswith("b")} == {MoveReason.CONSOLIDATION}
    assert violations(snap, composition_policy(snap.policy), result) == []


def test_a_move_validated_under_its_own_headroom_is_kept() -> None:
    """The base policy keeps 50 % free; an intent filled h2 to 80 % under its own
    headroom. The composition orders the moves, it does not judge them again."""
    snap = _cluster(cluster_slots=5, headroom=0.5)
    big = [vm(f"c{k}", "h0", cpu_used=4.0) for k in range(4)]
    snap = msgspec.structs.replace(snap, vms=snap.vms + tuple(big))
    chosen = [Chosen(f"c{k}", "h2", MoveReason.RELIEF, "h0 over") for k in range(3)]
    result = compose(snap, snap.policy, chosen, [])
    assert sorted(m.vm for m in result.moves) == ["c0", "c1", "c2"]
    assert result.unmovable == ()
    assert violations(snap, composition_policy(snap.policy), result) == []


def test_a_move_no_order_can_take_is_reported_not_dropped() -> None:
    """h0 and h1 are full; swapping their VMs needs each other's room first."""
    hosts = [host("h0", cores=2), host("h1", cores=2)]
    vms = [vm("x", "h0", cpu_used=2.0), vm("y", "h1", cpu_used=2.0)]
    snap = snapshot(hosts, vms)
    chosen = [Chosen("x", "h1", MoveReason.BALANCE), Chosen("y", "h0", MoveReason.BALANCE)]
    off = [Switch("h0", "off", PowerReason.IDLE)]
    result = compose(snap, snap.policy, chosen, off)
    assert result.moves == ()
    assert sorted((u.vm, u.reason) for u in result.unmovable) == [
        ("x", "ordering-deadlock"),
        ("y", "ordering-deadlock"),
    ]
    assert result.power == ()  # h0 keeps its VM: no power-off


def test_power_on_comes_first_and_power_off_after_the_last_vm_left() -> None:
    snap = _cluster(cluster_slots=1)
    chosen = [Chosen(f"a{k}", "h4", MoveReason.CONSOLIDATION) for k in range(3)]
    power = [
        Switch("h0", "off", PowerReason.CONSOLIDATION, "drained"),
        Switch("h4", "on", PowerReason.CONSOLIDATION),
    ]
    result = compose(snap, snap.policy, chosen, power)
    assert [m.wave for m in result.moves] == [1, 2, 3]
    assert [(a.host, a.action, a.wave) for a in result.power] == [
        ("h4", "on", 0),
        ("h0", "off", 4),
    ]
    assert result.power[1].detail == "drained"
    assert result.summary.active_hosts_after == result.summary.active_hosts_before
    assert violations(snap, composition_policy(snap.policy), result) == []


def test_the_empty_plan_summary_is_the_planners() -> None:
    snap = _cluster()
    snap = msgspec.structs.replace(
        snap, hosts=tuple(msgspec.structs.replace(h, cpu_used=1.5) for h in snap.hosts)
    )
    policy = msgspec.structs.replace(composition_policy(snap.policy), move_cost_per_s=1e9)
    planned = plan(snap, policy)
    assert planned.moves == ()
    assert empty_plan(snap, policy).summary == planned.summary
