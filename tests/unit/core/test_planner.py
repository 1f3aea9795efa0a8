"""The planner on small hand-made clusters: each objective, ordering, explanations."""

from __future__ import annotations

import msgspec
import pytest

from balancer.core.explain import explain
from balancer.core.models import (
    AffinityRule,
    AntiAffinityRule,
    Devices,
    Disk,
    PinRule,
    Slots,
    Snapshot,
)
from balancer.core.plan import MoveReason, Plan
from balancer.core.planner import plan
from balancer.core.verify import violations
from tests.unit.core.factories import NOW, host, snapshot, vm


def _checked(snap: Snapshot) -> Plan:
    result = plan(snap)
    assert violations(snap, snap.policy, result) == []
    return result


def test_evacuate_moves_every_vm_off_the_host() -> None:
    snap = snapshot(
        [host("a"), host("b"), host("c")],
        [vm(f"v{i}", "a") for i in range(4)] + [vm("w", "b")],
        objective="evacuate",
        evacuate_hosts=("a",),
    )
    result = _checked(snap)
    assert {m.vm for m in result.moves} == {"v0", "v1", "v2", "v3"}
    assert all(m.to in ("b", "c") and m.source == "a" for m in result.moves)
    assert all(m.reason is MoveReason.EVACUATION for m in result.moves)
    assert result.unmovable == ()


def test_evacuate_reports_each_vm_that_cannot_move_and_why() -> None:
    snap = snapshot(
        [host("a"), host("b", vendor="AMD", model="EPYC-Rome"), host("c", networks=("br9",))],
        [vm("gpu", "a", devices=Devices(hostdev=1)), vm("web", "a")],
        objective="evacuate",
        evacuate_hosts=("a",),
    )
    result = _checked(snap)
    assert result.moves == ()
    why = {u.vm: (u.reason, u.detail) for u in result.unmovable}
    assert why["gpu"][0] == "passthrough-device"
    assert why["web"][0] == "no-destination"
    assert "cpu-vendor-mismatch" in why["web"][1]
    assert "network-missing" in why["web"][1]


def test_maintenance_host_is_emptied_whatever_the_objective() -> None:
    snap = snapshot([host("a", state="maintenance"), host("b")], [vm("v", "a")])
    result = _checked(snap)
    assert [(m.vm, m.to) for m in result.moves] == [("v", "b")]


def test_evacuation_powers_on_an_off_host_when_active_ones_are_full() -> None:
    snap = snapshot(
        [host("a"), host("b", memory_mib=8192), host("c", state="off")],
        [vm("big", "a", memory_mib=32768), vm("fill", "b", memory_mib=4096)],
        objective="evacuate",
        evacuate_hosts=("a",),
    )
    result = _checked(snap)
    assert [(p.host, p.action, p.wave) for p in result.power] == [("c", "on", 0)]
    assert [(m.vm, m.to, m.wave) for m in result.moves] == [("big", "c", 1)]


def test_balance_moves_load_off_the_hot_host() -> None:
    snap = snapshot(
        [host("hot"), host("cold")],
        [vm(f"v{i}", "hot", cpu_used=3.0) for i in range(5)],
        objective="balance",
    )
    result = _checked(snap)
    assert result.moves
    assert all(m.source == "hot" and m.to == "cold" for m in result.moves)
    s = result.summary
    assert s.spread_after.cpu < s.spread_before.cpu


def test_balance_leaves_a_balanced_cluster_alone() -> None:
    snap = snapshot(
        [host("a"), host("b")], [vm("x", "a", cpu_used=2.0), vm("y", "b", cpu_used=2.1)]
    )
    assert plan(snap).moves == ()


def test_balance_relieves_an_overloaded_host_first() -> None:
    snap = snapshot(
        [host("a", cores=8), host("b", cores=8)],
        [vm("v1", "a", cpu_used=4.0), vm("v2", "a", cpu_used=4.0)],
        headroom=0.1,
    )
    result = _checked(snap)
    assert result.summary.overloaded_hosts_before == 1
    assert result.summary.overloaded_hosts_after == 0


def test_cooldown_keeps_a_recently_moved_vm_in_place() -> None:
    snap = snapshot(
        [host("hot"), host("cold")],
        [vm("v", "hot", cpu_used=12.0, last_migrated_at=NOW - 60)],
        cooldown_s=600,
    )
    result = _checked(snap)
    assert result.moves == ()
    assert [(u.vm, u.reason) for u in result.unmovable] == [("v", "cooldown")]


def test_consolidate_empties_and_powers_off_the_lightest_host() -> None:
    snap = snapshot(
        [host("a"), host("b"), host("c")],
        [
            vm("a1", "a", cpu_used=6.0),
            vm("a2", "a", cpu_used=6.0),
            vm("b1", "b", cpu_used=2.0),
            vm("c1", "c", cpu_used=6.0),
            vm("c2", "c", cpu_used=6.0),
        ],
        objective="consolidate",
    )
    result = _checked(snap)
    assert [m.vm for m in result.moves] == ["b1"]
    off = [(p.host, p.action) for p in result.power]
    assert off == [("b", "off")]
    assert result.power[0].wave == result.moves[0].wave + 1
    assert result.summary.active_hosts_after == 2


def test_consolidate_powers_on_when_the_load_does_not_fit() -> None:
    snap = snapshot(
        [host("a", cores=4), host("b", state="off", cores=16)],
        [vm("v1", "a", cpu_used=3.0), vm("v2", "a", cpu_used=3.0)],
        objective="consolidate",
        headroom=0.0,
    )
    result = _checked(snap)
    assert ("b", "on") in [(p.host, p.action) for p in result.power]
    assert result.summary.overloaded_hosts_after == 0


def test_anti_affinity_is_never_broken() -> None:
    snap = snapshot(
        [host("a"), host("b"), host("c")],
        [vm("x", "a"), vm("y", "b"), vm("z", "c")],
        (AntiAffinityRule(vms=("x", "y", "z")),),
        objective="consolidate",
    )
    result = _checked(snap)
    assert result.moves == ()


def test_affinity_group_moves_together() -> None:
    snap = snapshot(
        [host("a"), host("b"), host("c")],
        [vm("x", "a"), vm("y", "a"), vm("other", "b")],
        (AffinityRule(vms=("x", "y")),),
        objective="evacuate",
        evacuate_hosts=("a",),
    )
    result = _checked(snap)
    dests = {m.vm: m.to for m in result.moves}
    assert set(dests) == {"x", "y"}
    assert dests["x"] == dests["y"]


def test_split_affinity_group_is_not_joined_on_a_host_that_fails_a_filter() -> None:
    """A hard-affinity group spread over two hosts (one in maintenance) is reunited on a
    host that passes every filter for both VMs — not on the host of its first VM, which
    lacks the other VM's network (found by the property test)."""
    snap = snapshot(
        [
            host("a"),
            host("both", networks=("br0", "br1")),
            host("m", state="maintenance", networks=("br1",)),
        ],
        [
            vm("x", "a"),
            vm("y", "m", networks=("br1",)),
            vm("pinned", "a", devices=Devices(hostdev=1)),
        ],
        (AffinityRule(vms=("x", "y")),),
        objective="consolidate",
    )
    result = _checked(snap)
    dests = {m.vm: m.to for m in result.moves}
    assert dests == {"x": "both", "y": "both"}
    assert {(m.reason, m.detail) for m in result.moves} == {
        (MoveReason.EVACUATION, "m is maintenance")
    }


def test_pin_rule_limits_destinations() -> None:
    snap = snapshot(
        [host("a"), host("b"), host("c")],
        [vm("v", "a")],
        (PinRule(vm="v", hosts=("a", "c")),),
        objective="evacuate",
        evacuate_hosts=("a",),
    )
    assert [m.to for m in _checked(snap).moves] == ["c"]


def test_waves_respect_outbound_slots() -> None:
    snap = snapshot(
        [host("a"), host("b"), host("c")],
        [vm(f"v{i}", "a") for i in range(5)],
        objective="evacuate",
        evacuate_hosts=("a",),
        slots=Slots(outbound_per_host=2, inbound_per_host=2, cluster=5),
    )
    result = _checked(snap)
    per_wave: dict[int, int] = {}
    for m in result.moves:
        per_wave[m.wave] = per_wave.get(m.wave, 0) + 1
    assert per_wave == {1: 2, 2: 2, 3: 1}


def test_a_move_that_frees_room_comes_first() -> None:
    # b is full: "big" can only land on b once "small" has left b for c.
    snap = snapshot(
        [host("a", state="draining"), host("b", memory_mib=8192), host("c", memory_mib=4096)],
        [vm("big", "a", memory_mib=8192), vm("small", "b", memory_mib=4096)],
        headroom=0.0,
        objective="consolidate",
    )
    result = _checked(snap)
    waves = {m.vm: m.wave for m in result.moves}
    assert waves["small"] < waves["big"]


def test_max_migrations_caps_the_plan() -> None:
    snap = snapshot(
        [host("a"), host("b"), host("c")],
        [vm(f"v{i}", "a") for i in range(4)],
        objective="evacuate",
        evacuate_hosts=("a",),
        max_migrations=3,
    )
    result = _checked(snap)
    assert len(result.moves) == 3
    assert [u.reason for u in result.unmovable] == ["max-migrations"]


def test_vms_with_local_disks_move_with_a_storage_copy() -> None:
    local = (Disk(pool="local", shared=False, bytes=1 << 30),)
    hosts = [host("a", storage_pools=("local",)), host("b", storage_pools=("local",))]
    vms = [vm("off", "a", state="shutoff", disks=local), vm("on", "a", disks=local)]
    snap = snapshot(hosts, vms, objective="evacuate", evacuate_hosts=("a",))
    result = _checked(snap)
    assert sorted((m.vm, m.mode) for m in result.moves) == [("off", "offline"), ("on", "live")]
    priced = {m.vm: m.estimate for m in result.moves}
    assert priced["off"].bytes == 1 << 30  # the disk, at 128 MiB/s: 8 s
    assert priced["off"].duration_s == pytest.approx(8.0)
    assert priced["on"].bytes > (1 << 30) + (4096 << 20)  # the disk, then all its memory
    assert priced["on"].duration_s > 8.0 + 32.0

    forbidden = _checked(snapshot(hosts, vms, objective="evacuate", evacuate_hosts=("a",),
                                  allow_storage_copy=False))  # fmt: skip
    assert forbidden.moves == ()
    assert sorted((u.vm, u.reason) for u in forbidden.unmovable) == [
        ("off", "no-destination"), ("on", "no-destination")]  # fmt: skip


def test_failed_source_host_vm_is_reported() -> None:
    snap = snapshot([host("a", state="failed"), host("b")], [vm("v", "a")])
    result = _checked(snap)
    assert [(u.vm, u.reason) for u in result.unmovable] == [("v", "source-host-failed")]


def test_plans_are_deterministic() -> None:
    snap = snapshot(
        [host(f"h{i}") for i in range(6)],
        [vm(f"v{i}", f"h{i % 3}", cpu_used=0.5 + i % 4) for i in range(18)],
        objective="consolidate",
    )
    assert msgspec.json.encode(plan(snap)) == msgspec.json.encode(plan(snap))


def test_explain_lists_the_rejecting_filters() -> None:
    snap = snapshot(
        [host("a"), host("b", networks=("x",)), host("c", state="maintenance")],
        [vm("v", "a")],
    )
    ex = explain(snap, snap.policy, "v", plan(snap))
    reasons = {h.host: [v.reason for _, v in h.rejections] for h in ex.hosts}
    assert reasons["b"] == ["network-missing"]
    assert "host-not-active" in reasons["c"]
    assert "stays on a" in ex.summary


def test_explain_describes_the_move() -> None:
    snap = snapshot(
        [host("a"), host("b")], [vm("v", "a")], objective="evacuate", evacuate_hosts=("a",)
    )
    ex = explain(snap, snap.policy, "v", plan(snap))
    assert ex.move is not None
    assert "moves a → b" in ex.summary
