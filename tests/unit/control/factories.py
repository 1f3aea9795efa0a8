"""Builders for the control tests: a situation at the simulator's 300 s step and the
replay's control settings, and ``decide`` on it."""

from __future__ import annotations

import msgspec
import numpy as np

from balancer.control.cycle import Decision, decide
from balancer.control.intents import Intents
from balancer.control.memory import CycleMemory
from balancer.control.scope import Scope
from balancer.control.settings import ControlSettings
from balancer.control.situation import FloatArray, Situation
from balancer.core.models import Snapshot
from balancer.sim.replay import SIM_CONTROL

STEP_S = 300.0
#: The replay's settings (no balance, no power-on for capacity alone).
SETTINGS = SIM_CONTROL


def settings(**changes: object) -> ControlSettings:
    return msgspec.structs.replace(SETTINGS, **changes)


def decide_on(
    snap: Snapshot,
    history: FloatArray,
    memory: CycleMemory | None = None,
    config: ControlSettings = SETTINGS,
    *,
    busy: frozenset[str] = frozenset(),
    intents: Intents | None = None,
    step_s: float = STEP_S,
) -> Decision:
    situation = Situation(snap, history, step_s, busy, intents or Intents())
    return decide(situation, memory or CycleMemory(), config)


def scope_of(snap: Snapshot, history: FloatArray, config: ControlSettings = SETTINGS) -> Scope:
    return Scope.start(
        snap, history, STEP_S, config, CycleMemory(), busy=frozenset(), held=frozenset()
    )


def power_on(d: Decision) -> tuple[str, ...]:
    return tuple(a.host for a in d.plan.power if a.action == "on")


def moved(d: Decision) -> list[tuple[str, str, str]]:
    return sorted((m.vm, m.source, m.to) for m in d.plan.moves)


def steady(snap: Snapshot, samples: int = 12) -> FloatArray:
    now = np.array([v.cpu_used for v in snap.vms])
    out: FloatArray = np.repeat(now[:, None], samples, axis=1)
    return out
