"""The policy never sees the future: what it decides up to step k depends on the samples
up to k only."""

from __future__ import annotations

import dataclasses

import msgspec
import numpy as np
import pytest

from balancer.control.cycle import Decision, decide
from balancer.control.memory import CycleMemory
from balancer.control.power import FloatArray
from balancer.control.settings import ControlSettings
from balancer.control.situation import Situation
from balancer.sim.initial import Opening
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
        assert (a.intents, a.summary) == (b.intents, b.summary)
        assert a.switches == b.switches
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

    def spy(situation: Situation, memory: CycleMemory, config: ControlSettings) -> Decision:
        snapshot = situation.snapshot
        current = np.array([v.cpu_used for v in snapshot.vms])
        seen.append((snapshot.taken_at, situation.history.copy(), current))
        return decide(situation, memory, config)

    monkeypatch.setattr("balancer.control.loop.decide", spy)
    replay(w, msgspec.structs.replace(CONFIG, observation_lag=lag))
    assert len(seen) == 24
    window = int(CONFIG.control.forecast_window_s / w.step_s)
    for k, (taken_at, history, current) in enumerate(seen):
        assert taken_at == k * w.step_s
        # Sample j of the window is the one observed at step j (lagging), the oldest one
        # observed repeated back before the replay's start.
        cols = [max(0, j - lag) for j in range(k + 1 - window, k + 1)]
        assert history.shape == (len(w.vms), window)
        assert np.array_equal(history, w.cpu[:, cols])
        assert np.array_equal(current, w.cpu[:, max(0, k - lag)])
