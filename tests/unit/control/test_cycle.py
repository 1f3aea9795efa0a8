"""The cycle's decisions on small reference clusters (G4 hosts even, G5 hosts odd)."""

from __future__ import annotations

import typing

import msgspec
import numpy as np
import pytest

from balancer.control.forecast import FORECASTERS
from balancer.control.memory import CycleMemory, HostPower
from balancer.control.relief import overloaded
from balancer.control.settings import ControlSettings, Forecaster
from balancer.core.models import CapacityMode, Policy
from balancer.core.verify import violations
from tests.unit.control.factories import (
    SETTINGS,
    decide_on,
    moved,
    power_on,
    scope_of,
    settings,
)
from tests.unit.sim.factories import G5_CORES, snapshot, steady_history

CONFIG = SETTINGS


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
    d = decide_on(snap, steady_history(snap))
    assert d.intents == ()
    assert d.plan.moves == ()
    assert d.plan.power == ()
    assert d.summary == "nothing to do"


def test_an_overloaded_host_is_relieved_down_to_its_line() -> None:
    loads = {1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]}  # host-1: 6.0 of 5.32 cores
    snap = snapshot(loads)
    d = decide_on(snap, steady_history(snap))
    assert d.intents == ("relief",)
    moves = moved(d)
    assert moves
    assert {src for _, src, _ in moves} == {"host-1"}
    assert {m.reason.value for m in d.plan.moves} == {"relief"}
    after = _after(loads, moves)
    assert after["host-1"] <= CONFIG.relieve_to * G5_CORES + 1e-9
    assert violations(snap, snap.policy, d.plan) == []
    assert violations(snap, d.policy, d.plan) == []


def test_relief_powers_on_the_most_efficient_off_host() -> None:
    loads = {1: [2.0, 2.0, 1.5, 0.5]}  # nowhere else to go: hosts 0, 2, 3 are off
    snap = snapshot(loads)
    d = decide_on(snap, steady_history(snap))
    assert d.intents == ("relief",)
    assert power_on(d) == ("host-3",)  # a G5 (5.32 cores for 135 W), not a G4
    (on,) = d.plan.power
    assert (on.wave, on.reason.value) == (0, "relief")
    assert {m.to for m in d.plan.moves} == {"host-3"}
    assert d.memory.power["host-3"].last == "on"


def test_a_one_sample_burst_waits_when_asked_to() -> None:
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]})
    history = steady_history(snap)
    history[:4, :-1] = 1.0  # host-1 held 4 cores until now
    patient = settings(relieve_after_s=300.0)
    assert overloaded(scope_of(snap, history, CONFIG)) == ["host-1"]
    assert overloaded(scope_of(snap, history, patient)) == []
    history[:4, -2] = history[:4, -1]
    assert overloaded(scope_of(snap, history, patient)) == ["host-1"]


def test_a_light_host_is_drained_and_powered_off_when_the_saving_pays() -> None:
    loads = {1: [1.0, 1.0], 3: [0.3, 0.2]}
    snap = snapshot(loads)
    d = decide_on(snap, steady_history(snap))
    assert d.intents == ("consolidation",)
    assert moved(d) == [
        ("vm-3-0", "host-3", "host-1"),
        ("vm-3-1", "host-3", "host-1"),
    ]
    (off,) = d.plan.power
    assert (off.host, off.action, off.reason.value) == ("host-3", "off", "consolidation")
    assert off.wave == max(m.wave for m in d.plan.moves) + 1
    assert d.memory.last_consolidation_at == snap.taken_at
    assert d.memory.power["host-3"].offs == (snap.taken_at,)
    assert violations(snap, d.policy, d.plan) == []


def test_no_drain_when_the_moves_cost_more_than_they_save() -> None:
    loads = {1: [1.0, 1.0], 3: [0.3, 0.2]}
    snap = snapshot(loads)
    stingy = settings(min_watts_per_move=60.0)  # ~95 W saved for 2 moves
    assert decide_on(snap, steady_history(snap), config=stingy).intents == ()


def test_no_drain_of_a_host_within_its_minimum_on_time() -> None:
    loads = {1: [1.0, 1.0], 3: [0.3, 0.2]}
    snap = snapshot(loads, now=7200.0)
    hour = settings(min_on_s=3600.0)
    old = CycleMemory(power={"host-3": _on_at(0.0)})
    first = decide_on(snap, steady_history(snap), old, hour)  # on two hours ago...
    assert first.intents == ("consolidation",)
    assert {m.source for m in first.plan.moves} == {"host-3"}
    young = decide_on(
        snap, steady_history(snap), CycleMemory(power={"host-3": _on_at(5400.0)}), hour
    )
    # ...host-3 only half an hour ago: it is not drained nor powered off (it may keep).
    assert all(m.source != "host-3" for m in young.plan.moves)
    assert all(a.host != "host-3" for a in young.plan.power)


def _on_at(t: float) -> HostPower:
    return HostPower(last="on", at=t)


def test_energy_saving_can_be_switched_off() -> None:
    snap = snapshot({1: [1.0, 1.0], 3: [0.3, 0.2]})
    assert decide_on(snap, steady_history(snap), config=settings(energy_saving=False)).intents == ()


def test_consolidation_waits_for_its_period() -> None:
    snap = snapshot({1: [1.0, 1.0], 3: [0.3, 0.2]}, now=1000.0)
    recent = CycleMemory(last_consolidation_at=1000.0 - CONFIG.consolidate_every_s / 2)
    assert decide_on(snap, steady_history(snap), recent).intents == ()
    old = CycleMemory(last_consolidation_at=1000.0 - CONFIG.consolidate_every_s)
    assert decide_on(snap, steady_history(snap), old).intents == ("consolidation",)


def test_consolidation_packs_by_the_forecast_not_the_last_sample() -> None:
    loads = {1: [1.5, 1.5], 3: [0.3, 0.2]}
    snap = snapshot(loads)
    history = steady_history(snap)
    history[2, :6] = 2.0  # vm-3-0 ran at 2 cores for half an hour earlier
    settled = CycleMemory(settled=True)
    assert decide_on(snap, steady_history(snap), settled).intents == ("consolidation",)
    assert decide_on(snap, history, settled).intents == ()
    # Until a consolidation first finds nothing to do, the cycle packs the fleet it
    # started with by the demand now, as the initial placement does.
    assert decide_on(snap, history, CycleMemory()).intents == ("consolidation",)


def test_packing_goes_on_at_the_next_step_until_nothing_is_worth_it() -> None:
    snap = snapshot({1: [1.0, 1.0], 3: [0.3, 0.2]}, now=600.0)
    packed = decide_on(snap, steady_history(snap))
    assert packed.intents == ("consolidation",)
    assert packed.memory.packing
    soon = msgspec.structs.replace(snap, taken_at=900.0)  # 5 min later, not 30
    again = decide_on(soon, steady_history(soon), msgspec.structs.replace(packed.memory, power={}))
    assert again.intents == ("consolidation",)  # the same drain is still worth it here
    done = decide_on(snapshot({1: [1.0, 1.0, 0.3, 0.2]}), steady_history(snap), packed.memory)
    assert done.intents == ()
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
    brim = decide_on(snap, steady_history(snap), config=settings(min_watts_per_move=1e3))
    assert {m.to for m in brim.plan.moves} == {"host-3"}
    assert power_on(brim) == ()
    margin = settings(min_watts_per_move=1e3, memory_headroom=0.15)
    kept = decide_on(snap, steady_history(snap), config=margin)
    assert power_on(kept) == ("host-5",)
    assert {m.to for m in kept.plan.moves} == {"host-5"}


@pytest.mark.parametrize(
    ("mode", "intents"), [("cpu-only", ("consolidation",)), ("cpu+memory", ())]
)
def test_a_drain_needs_memory_room_when_memory_counts(
    mode: CapacityMode, intents: tuple[str, ...]
) -> None:
    loads = {1: [0.5, 0.5, 0.5], 3: [0.3]}  # host-1 holds 3 x 1200 MiB: no room for 870
    snap = snapshot(loads, policy=Policy(capacity_mode=mode, cooldown_s=0.0))
    vms = tuple(
        msgspec.structs.replace(v, memory_mib=1200) if v.host == "host-1" else v for v in snap.vms
    )
    snap = msgspec.structs.replace(snap, vms=vms)
    d = decide_on(snap, steady_history(snap))
    assert d.intents == intents
    assert d.plans_computed == (1 if intents else 0)  # not even tried


@pytest.mark.parametrize("samples", [1, 2, 5, 12, 60])
@pytest.mark.parametrize("q", [0.0, 0.5, 0.9, 1.0])
def test_the_quantile_forecast_is_numpys_by_a_partial_sort(samples: int, q: float) -> None:
    history = np.random.default_rng(samples).uniform(0.0, 4.0, (50, samples))
    expected = np.maximum(np.quantile(history[:, -12:], q, axis=1), history[:, -1])
    assert np.allclose(FORECASTERS["quantile"](history, 12, q), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"relieve_to": 1.2}, "relieve_to"),
        ({"forecast_window_s": 0}, "forecast_window_s"),
        ({"min_on_s": -1}, "min_on_s"),
        ({"power_cycles_per_day": -1}, "power_cycles_per_day"),
        ({"relieve_above": 0.8, "relieve_to": 0.85}, "relieve_to must be at most relieve_above"),
        ({"power_on_above": 0.7}, "pack_to must be at most power_on_above"),
        ({"relieve_after": 2}, "relieve_after"),  # an old field in samples: unknown now
    ],
)
def test_bad_settings_are_refused_naming_the_field(given: dict[str, object], named: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=named):
        msgspec.convert(given, ControlSettings)


def test_a_host_holding_a_vm_in_its_cool_down_is_not_drained_unless_allowed() -> None:
    policy = Policy(capacity_mode="cpu-only", cooldown_s=3600.0)
    snap = snapshot({1: [1.0, 1.0], 3: [0.3, 0.2]}, now=10_000.0, policy=policy)
    landed = msgspec.structs.replace(snap.vms[2], last_migrated_at=10_000.0 - 600.0)
    snap = msgspec.structs.replace(snap, vms=(*snap.vms[:2], landed, snap.vms[3]))
    held = decide_on(snap, steady_history(snap))  # host-3 stays: host-1 goes to it
    assert all(m.source != "host-3" for m in held.plan.moves)
    assert "vm-3-0" not in {m.vm for m in held.plan.moves}
    d = decide_on(snap, steady_history(snap), config=settings(drain_cooling=True))
    assert d.intents == ("consolidation",)
    assert {m.vm for m in d.plan.moves} == {"vm-3-0", "vm-3-1"}
