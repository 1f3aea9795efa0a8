"""The policy never sees the future: what it decides up to step k depends on the samples
up to k only."""

from __future__ import annotations

import dataclasses

import msgspec
import numpy as np
import pytest

from balancer.core.models import Snapshot
from balancer.control.cycle import CycleConfig, CycleMemory, Decision, decide
from balancer.sim.initial import Opening
from balancer.control.power import FloatArray
from balancer.sim.replay import SimConfig, StepRecord, replay
from balancer.sim.workload import Workload
from tests.unit.sim.factories import day_workload

K = 12  # the futures differ from step K + 1 on
CONFIG = SimConfig(hours=2.0)


def _changed_future(w: Workload) -> Workload:
    cpu = w.cpu.copy()
    cpu[:, K + 1 :] = np.minimum(cpu[:, K + 1 :] * 3.0, cpu.max(axis=1, keepdims=True) * 2)
    cpu.setflags(write=False)
    return dataclasses.replace(w, cpu=cpu)


def _records(w: Workload, config: SimConfig = CONFIG) -> list[StepRecord]:
    out: list[StepRecord] = []
    replay(w, config, out.append)
    return out


@pytest.mark.parametrize("opening", ["amortized", "rise", "cloudsim"])
def test_decisions_up_to_a_step_ignore_what_comes_after(opening: Opening) -> None:
    """From each start: packing a spread fleet and replacing G4s see no future either."""
    w = day_workload()
    config = msgspec.structs.replace(CONFIG, initial_opening=opening)
    now, other = _records(w, config), _records(_changed_future(w), config)
    for a, b in zip(now[: K + 1], other[: K + 1], strict=True):
        assert np.array_equal(a.placement, b.placement)
        assert a.migrations == b.migrations
        assert (a.action, a.reason) == (b.action, b.reason)
    # The changed future does change what happens next: the test can tell.
    later = zip(now[K + 1 :], other[K + 1 :], strict=True)
    assert any(a.migrations != b.migrations for a, b in later)


@pytest.mark.parametrize("lag", [0, 1])
def test_the_cycle_is_handed_no_sample_after_the_current_one(
    monkeypatch: pytest.MonkeyPatch, lag: int
) -> None:
    """It sees the sample just taken (lag 0, as the reference) or only those before."""
    w = day_workload()
    seen: list[tuple[float, FloatArray, FloatArray]] = []

    def spy(
        snapshot: Snapshot, history: FloatArray, memory: CycleMemory, config: CycleConfig
    ) -> Decision:
        current = np.array([v.cpu_used for v in snapshot.vms])
        seen.append((snapshot.taken_at, history.copy(), current))
        return decide(snapshot, history, memory, config)

    monkeypatch.setattr("balancer.sim.replay.decide", spy)
    replay(w, msgspec.structs.replace(CONFIG, observation_lag=lag))
    assert len(seen) == 24
    for k, (taken_at, history, current) in enumerate(seen):
        assert taken_at == k * w.step_s
        last = max(0, k - lag)
        window = min(last + 1, CONFIG.cycle.forecast_window)
        assert np.array_equal(history, w.cpu[:, last + 1 - window : last + 1])
        assert np.array_equal(current, w.cpu[:, last])
