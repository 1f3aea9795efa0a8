"""The simulated executor: pre-copy durations, slots per host and cluster, waves, and the
interval's end."""

from __future__ import annotations

import msgspec
import pytest

from balancer.core.models import Policy, Slots
from balancer.core.plan import Move, MoveEstimate, MoveReason, Plan, Spread, Summary
from balancer.sim.executor import execute
from tests.unit.sim.factories import snapshot

#: 870 MiB at the reference's 62.5 MiB/s, no dirty pages: one pass.
ONE_PASS_S = 870 / 62.5


def _plan(moves: list[tuple[str, str, str, int]]) -> Plan:
    zero = Spread(cpu=0.0, memory=0.0)
    return Plan(
        generation=0,
        taken_at=0.0,
        moves=tuple(
            Move(
                vm=vm,
                source=src,
                to=dst,
                mode="live",
                wave=wave,
                reason=MoveReason.BALANCE,
                estimate=MoveEstimate(duration_s=0.0, downtime_ms=0.0, bytes=0),
            )
            for vm, src, dst, wave in moves
        ),
        power=(),
        unmovable=(),
        summary=Summary(
            objective="balance", active_hosts_before=0, active_hosts_after=0,
            spread_before=zero, spread_after=zero, migrations=len(moves), waves=1,
            total_bytes=0, total_duration_s=0.0, max_downtime_ms=0.0,
            overloaded_hosts_before=0, overloaded_hosts_after=0,
        ),
    )  # fmt: skip


SNAP = snapshot({1: [0.5, 0.5, 0.5], 3: [0.5], 5: [0.5]}, hosts=8)
POLICY = Policy(slots=Slots(outbound_per_host=2, inbound_per_host=2, cluster=5))


def test_a_migration_lasts_memory_over_bandwidth() -> None:
    done = execute(_plan([("vm-1-0", "host-1", "host-3", 1)]), SNAP, POLICY, 300.0)
    (m,) = done.migrations
    assert m.start_s == 0.0
    assert m.duration_s == pytest.approx(ONE_PASS_S)
    assert m.mode == "live"
    assert m.bytes == 870 * 2**20


def test_outbound_slots_queue_the_third_move_out_of_a_host() -> None:
    plan = _plan([(f"vm-1-{k}", "host-1", f"host-{d}", 1) for k, d in enumerate((3, 5, 7))])
    starts = [m.start_s for m in execute(plan, SNAP, POLICY, 300.0).migrations]
    assert starts == [0.0, 0.0, pytest.approx(ONE_PASS_S)]


def test_the_cluster_slot_cap_holds_across_hosts() -> None:
    policy = msgspec.structs.replace(POLICY, slots=Slots(cluster=1))
    plan = _plan([("vm-1-0", "host-1", "host-7", 1), ("vm-3-0", "host-3", "host-5", 1)])
    starts = [m.start_s for m in execute(plan, SNAP, policy, 300.0).migrations]
    assert starts == [0.0, pytest.approx(ONE_PASS_S)]


def test_a_wave_starts_when_the_previous_one_has_ended() -> None:
    plan = _plan([("vm-1-0", "host-1", "host-3", 1), ("vm-5-0", "host-5", "host-7", 2)])
    starts = [m.start_s for m in execute(plan, SNAP, POLICY, 300.0).migrations]
    assert starts == [0.0, pytest.approx(ONE_PASS_S)]


def test_moves_that_cannot_end_in_the_interval_wait_with_the_later_waves() -> None:
    plan = _plan(
        [
            ("vm-1-0", "host-1", "host-3", 1),
            ("vm-3-0", "host-3", "host-5", 2),
            ("vm-5-0", "host-5", "host-7", 3),
        ]
    )
    done = execute(plan, SNAP, POLICY, 1.5 * ONE_PASS_S)
    assert [m.vm for m in done.migrations] == ["vm-1-0"]
    assert done.deferred == ("vm-3-0", "vm-5-0")
