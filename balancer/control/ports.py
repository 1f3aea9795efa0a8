"""The ports between the control loop and the world: small Protocols (DESIGN.md §6).

Two sets of implementations: on Redis and Celery (``balancer.daemon``) and in memory
(``balancer.control.memory_ports``, driven by the simulator and the fault tests). A fault
test plugs in a faulty port; it never mocks the loop.

Time: ``Clock.now()`` is the cycle's time in seconds (Unix time for a real fleet; the
fleet's simulated time for ``balancer fleet sim``). Every setting of the loop is in
seconds of that clock.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from balancer.control.intents import Evacuation, Intents
from balancer.control.memory import CycleMemory
from balancer.control.records import CycleRecord, InFlight
from balancer.core.models import Snapshot
from balancer.core.plan import Plan

FloatArray = npt.NDArray[np.float64]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds (Unix time, or a simulation's time)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock."""


class SnapshotSource(Protocol):
    def snapshot(self, now: float) -> Snapshot:
        """One consistent snapshot of the cluster, taken at ``now``."""


class LoadHistory(Protocol):
    """Each VM's past CPU demand, by VM name: a migrated VM's samples follow it."""

    def record(self, snapshot: Snapshot) -> None:
        """Keep the snapshot's per-VM CPU (at most one sample per ``step_s``)."""

    def matrix(self, snapshot: Snapshot, window_s: float, step_s: float) -> FloatArray:
        """VMs (rows, ``snapshot.vms`` order) x samples ``step_s`` apart covering the last
        ``window_s`` (oldest first); the last column is the snapshot's own ``cpu_used``.
        A VM known for less long has its oldest sample repeated back to the window's start.
        """


class CycleStore(Protocol):
    """The cycle's memory, its records and the operators' intents (durable)."""

    def load(self) -> CycleMemory:
        """The memory the last cycle saved (a fresh one before the first)."""

    def save(self, memory: CycleMemory, record: CycleRecord, epoch: int) -> bool:
        """Save the cycle's memory and record, unless ``epoch`` is no longer the
        current one (then nothing is written and ``False`` comes back)."""

    def intents(self) -> Intents:
        """The pause and the evacuations, as stored now."""

    def update_evacuations(self, evacuations: tuple[Evacuation, ...], epoch: int) -> bool:
        """Store the evacuations the cycle created or finished (fenced like ``save``)."""


class PlanSink(Protocol):
    """The executor: carries out plans; says what is still under way."""

    def send(self, plan: Plan, snapshot: Snapshot, epoch: int, plan_id: str) -> int:
        """Queue the plan's waves (only what the tasks need: moves, epoch, limits; never
        the snapshot). Returns the number of tasks queued."""

    def in_flight(self) -> InFlight:
        """The plan under way, if any, and the VMs and hosts it still holds."""

    def cancel(self, vms: frozenset[str], hosts: frozenset[str]) -> int:
        """Revoke the queued moves of ``vms`` and power actions of ``hosts`` (running ones
        finish). Returns how many were revoked."""


class Coordination(Protocol):
    """Leadership: only the leader's cycles act, and only under its epoch."""

    def epoch(self) -> int | None:
        """The epoch this process leads under, or ``None`` when it does not lead (never
        lost its renew deadline ago)."""
