"""Plans price moves with the VM's measured non-zero memory (``Vm.resident_mib``) when the
snapshot has it, and exactly as before when it does not."""

from __future__ import annotations

import msgspec
import pytest

from balancer.core.migration_model import MIB, estimate
from balancer.core.models import Snapshot
from balancer.core.plan import Move
from balancer.core.planner import plan
from tests.unit.core.factories import host, snapshot, vm


def _evacuation(resident_mib: float | None) -> Snapshot:
    guest = vm("v", "a", memory_mib=8192, dirty_rate_mib_s=16.0, resident_mib=resident_mib)
    return snapshot([host("a"), host("b")], [guest], objective="evacuate", evacuate_hosts=("a",))


def _only_move(snap: Snapshot) -> Move:
    [move] = plan(snap).moves
    return move


def test_without_resident_memory_the_estimate_is_the_all_memory_one() -> None:
    snap = _evacuation(None)
    move = _only_move(snap)
    a, b = snap.hosts
    full = estimate(snap.vms[0], a, b, snap.policy)
    assert move.estimate.bytes == full.bytes
    assert move.estimate.duration_s == round(full.duration_s, 3)
    assert move.estimate.rounds == full.rounds
    assert move.estimate.bytes > 8192 * MIB  # every page sent, plus the re-dirtied ones


def test_resident_memory_shrinks_the_planned_estimate() -> None:
    before = _only_move(_evacuation(None)).estimate
    snap = _evacuation(2048.0)
    after = _only_move(snap).estimate
    a, b = snap.hosts
    expected = estimate(snap.vms[0], a, b, snap.policy, resident_mib=2048.0)
    assert after.bytes == expected.bytes
    assert after.duration_s == round(expected.duration_s, 3)
    # Round 0 sends 2048 MiB instead of 8192: 16 s at 128 MiB/s instead of 64 s.
    assert after.bytes < before.bytes / 3
    assert after.duration_s < before.duration_s / 3
    assert after.duration_s > 2048 / 128


def test_plan_summary_totals_follow_the_smaller_estimates() -> None:
    full = plan(_evacuation(None)).summary
    part = plan(_evacuation(1024.0)).summary
    assert part.total_bytes < full.total_bytes
    assert part.total_duration_s < full.total_duration_s


def test_resident_memory_above_the_guest_memory_counts_as_all_of_it() -> None:
    assert _only_move(_evacuation(1e9)).estimate == _only_move(_evacuation(None)).estimate


def _balance(resident_mib: float | None) -> Snapshot:
    """Host ``a`` holds two busy 64 GiB guests, ``b`` nothing: moving one evens them out
    (a gain of about 0.25), worth it only if the move is short enough (cost 0.002/s)."""
    guests = [
        vm(n, "a", vcpus=8, cpu_used=4.0, memory_mib=65536, resident_mib=resident_mib)
        for n in ("g1", "g2")
    ]
    hosts = [host(h, memory_mib=262144) for h in ("a", "b")]
    return snapshot(hosts, guests, objective="balance", move_cost_per_s=0.002)


def test_balance_weighs_the_cost_of_a_move_with_its_resident_memory() -> None:
    # All memory: 64 GiB at 128 MiB/s is over 500 s, a cost over 1: not worth moving.
    assert plan(_balance(None)).moves == ()
    # 1 GiB written: about 8 s, a cost of 0.016: one guest moves to b.
    [move] = plan(_balance(1024.0)).moves
    assert (move.source, move.to) == ("a", "b")
    assert move.estimate.duration_s == pytest.approx(8.0, rel=0.05)


def test_the_field_round_trips_through_json() -> None:
    snap = _evacuation(512.5)
    again = msgspec.json.decode(msgspec.json.encode(snap), type=Snapshot)
    assert again.vms[0].resident_mib == 512.5
    with pytest.raises(msgspec.ValidationError, match="resident_mib"):
        msgspec.json.decode(
            msgspec.json.encode(snap).replace(b'"resident_mib":512.5', b'"resident_mib":-1'),
            type=Snapshot,
        )
