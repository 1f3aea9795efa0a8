"""The cycle's decisions on small reference clusters (G4 hosts even, G5 hosts odd)."""

from __future__ import annotations

import typing

import msgspec
import numpy as np
import pytest

from balancer.core.models import CapacityMode, Policy
from balancer.core.verify import violations
from balancer.control.cycle import CycleConfig, CycleMemory, decide, overloaded
from balancer.control.cycle_config import Forecaster
from balancer.control.forecast import FORECASTERS
from tests.unit.sim.factories import G5_CORES, snapshot, steady_history

CONFIG = CycleConfig()


def _after(
    snap_loads: dict[int, list[float]], moves: list[tuple[str, str, str]]
) -> dict[str, float]:
    load = {f"host-{i}": sum(c) for i, c in snap_loads.items()}
    cpu = {f"vm-{i}-{k}": c for i, cs in snap_loads.items() for k, c in enumerate(cs)}
    for vm, src, dst in moves:
        load[src] -= cpu[vm]
        load[dst] = load.get(dst, 0.0) + cpu[vm]
    return load


def test_nothing_to_do_when_every_host_is_within_its_lines() -> None:
    snap = snapshot({1: [1.0, 1.0, 1.5], 3: [1.0, 1.5, 1.5]})
    d = decide(snap, steady_history(snap), CycleMemory(), CONFIG)
    assert d.action == "none"
    assert d.plan is None


def test_an_overloaded_host_is_relieved_down_to_its_line() -> None:
    loads = {1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]}  # host-1: 6.0 of 5.32 cores
    snap = snapshot(loads)
    d = decide(snap, steady_history(snap), CycleMemory(), CONFIG)
    assert d.action == "relieve"
    assert d.plan is not None
    moves = [(m.vm, m.source, m.to) for m in d.plan.moves]
    assert moves
    assert {src for _, src, _ in moves} == {"host-1"}
    after = _after(loads, moves)
    assert after["host-1"] <= CONFIG.relieve_to * G5_CORES + 1e-9
    assert violations(snap, snap.policy, d.plan) == []


def test_relief_powers_on_the_most_efficient_off_host() -> None:
    loads = {1: [2.0, 2.0, 1.5, 0.5]}  # nowhere else to go: hosts 0, 2, 3 are off
    snap = snapshot(loads)
    d = decide(snap, steady_history(snap), CycleMemory(), CONFIG)
    assert d.action == "relieve"
    assert d.plan is not None
    assert d.power_on == ("host-3",)  # a G5 (5.32 cores for 135 W), not a G4
    assert {m.to for m in d.plan.moves} == {"host-3"}


def test_a_one_sample_burst_waits_when_asked_to() -> None:
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]})
    history = steady_history(snap)
    history[:4, :-1] = 1.0  # host-1 held 4 cores until now
    patient = CycleConfig(relieve_after=2)
    assert overloaded(snap, history, CONFIG) == ["host-1"]
    assert overloaded(snap, history, patient) == []
    history[:4, -2] = history[:4, -1]
    assert overloaded(snap, history, patient) == ["host-1"]


def test_a_light_host_is_drained_when_the_saving_pays_for_the_moves() -> None:
    loads = {1: [1.0, 1.0], 3: [0.3, 0.2]}
    snap = snapshot(loads)
    d = decide(snap, steady_history(snap), CycleMemory(), CONFIG)
    assert d.action == "consolidate"
    assert d.plan is not None
    assert sorted((m.vm, m.source, m.to) for m in d.plan.moves) == [
        ("vm-3-0", "host-3", "host-1"),
        ("vm-3-1", "host-3", "host-1"),
    ]
    assert d.memory.last_consolidation_at == snap.taken_at


def test_no_drain_when_the_moves_cost_more_than_they_save() -> None:
    loads = {1: [1.0, 1.0], 3: [0.3, 0.2]}
    snap = snapshot(loads)
    stingy = CycleConfig(min_watts_per_move=60.0)  # ~95 W saved for 2 moves
    assert decide(snap, steady_history(snap), CycleMemory(), stingy).action == "none"


def test_consolidation_waits_for_its_period() -> None:
    snap = snapshot({1: [1.0, 1.0], 3: [0.3, 0.2]}, now=1000.0)
    recent = CycleMemory(last_consolidation_at=1000.0 - CONFIG.consolidate_every_s / 2)
    assert decide(snap, steady_history(snap), recent, CONFIG).action == "none"
    old = CycleMemory(last_consolidation_at=1000.0 - CONFIG.consolidate_every_s)
    assert decide(snap, steady_history(snap), old, CONFIG).action == "consolidate"


def test_consolidation_packs_by_the_forecast_not_the_last_sample() -> None:
    loads = {1: [1.5, 1.5], 3: [0.3, 0.2]}
    snap = snapshot(loads)
    history = steady_history(snap)
    history[2, :6] = 2.0  # vm-3-0 ran at 2 cores for half an hour earlier
    settled = CycleMemory(settled=True)
    assert decide(snap, steady_history(snap), settled, CONFIG).action == "consolidate"
    assert decide(snap, history, settled, CONFIG).action == "none"
    # Until a consolidation first finds nothing to do, the cycle packs the fleet it
    # started with by the demand now, as the initial placement does.
    assert decide(snap, history, CycleMemory(), CONFIG).action == "consolidate"


def test_packing_goes_on_at_the_next_step_until_nothing_is_worth_it() -> None:
    snap = snapshot({1: [1.0, 1.0], 3: [0.3, 0.2]}, now=600.0)
    packed = decide(snap, steady_history(snap), CycleMemory(), CONFIG)
    assert packed.action == "consolidate"
    assert packed.memory.packing
    soon = msgspec.structs.replace(snap, taken_at=900.0)  # 5 min later, not 30
    again = decide(soon, steady_history(soon), packed.memory, CONFIG)
    assert again.action == "consolidate"  # the same drain is still worth it here
    done = decide(snapshot({1: [1.0, 1.0, 0.3, 0.2]}), steady_history(snap), packed.memory, CONFIG)
    assert done.action == "none"
    assert not done.memory.packing
    assert done.memory.settled


def test_every_forecaster_is_registered_and_sees_only_the_history() -> None:
    assert set(FORECASTERS) == set(typing.get_args(Forecaster))
    history = np.array([[1.0, 3.0, 2.0]])
    got = {name: float(f(history, 3, 0.5)[0]) for name, f in FORECASTERS.items()}
    assert got == {"last": 2.0, "mean": 2.0, "quantile": 2.0, "peak": 3.0}
    assert FORECASTERS["quantile"](history, 3, 0.9)[0] == pytest.approx(2.8)


def test_memory_is_packed_to_the_brim_in_cpu_and_memory_mode() -> None:
    """host-3 holds 3200 of its 4096 MiB: an 870 MiB VM fits only if no memory is kept
    free, as ``memory_headroom`` 0 asks (the CPU headroom does not apply to memory)."""
    loads = {1: [2.0, 2.0, 1.5, 0.5], 3: [0.2, 0.2]}
    snap = snapshot(loads, 6, policy=Policy(capacity_mode="cpu+memory", cooldown_s=0.0))
    big = {"vm-3-0", "vm-3-1"}
    vms = tuple(
        msgspec.structs.replace(v, memory_mib=1600) if v.name in big else v for v in snap.vms
    )
    snap = msgspec.structs.replace(snap, vms=vms)
    brim = decide(snap, steady_history(snap), CycleMemory(), CycleConfig(min_watts_per_move=1e3))
    assert brim.plan is not None
    assert {m.to for m in brim.plan.moves} == {"host-3"}
    assert brim.power_on == ()
    margin = CycleConfig(min_watts_per_move=1e3, memory_headroom=0.15)
    kept = decide(snap, steady_history(snap), CycleMemory(), margin)
    assert kept.plan is not None
    assert kept.power_on == ("host-5",)
    assert {m.to for m in kept.plan.moves} == {"host-5"}


@pytest.mark.parametrize(("mode", "action"), [("cpu-only", "consolidate"), ("cpu+memory", "none")])
def test_a_drain_needs_memory_room_when_memory_counts(mode: CapacityMode, action: str) -> None:
    loads = {1: [0.5, 0.5, 0.5], 3: [0.3]}  # host-1 holds 3 x 1200 MiB: no room for 870
    snap = snapshot(loads, policy=Policy(capacity_mode=mode, cooldown_s=0.0))
    vms = tuple(
        msgspec.structs.replace(v, memory_mib=1200) if v.host == "host-1" else v for v in snap.vms
    )
    snap = msgspec.structs.replace(snap, vms=vms)
    d = decide(snap, steady_history(snap), CycleMemory(), CONFIG)
    assert d.action == action
    assert d.plans_computed == (1 if action == "consolidate" else 0)  # not even tried
