"""The ports in memory: one implementation of each Protocol of ``balancer.control.ports``,
for the simulator and the tests (a fault test subclasses one to inject its fault)."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import numpy as np

from balancer.control.intents import Evacuation, Intents, Pause
from balancer.control.memory import CycleMemory
from balancer.control.records import CycleRecord, InFlight
from balancer.control.situation import FloatArray
from balancer.core.models import Snapshot
from balancer.core.plan import Plan


@dataclass
class ManualClock:
    """Time moves only when told (``sleep`` or ``set``)."""

    t: float = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def set(self, t: float) -> None:
        self.t = t


@dataclass
class FixedSnapshots:
    """Hands out the snapshot last ``put``, taken at the time asked."""

    current: Snapshot

    def put(self, snapshot: Snapshot) -> None:
        self.current = snapshot

    def snapshot(self, now: float) -> Snapshot:
        if self.current.taken_at == now:
            return self.current
        return msgspec.structs.replace(self.current, taken_at=now)


@dataclass(frozen=True)
class _Frame:
    at: float
    names: tuple[str, ...]
    index: dict[str, int]
    cpu: FloatArray


class MemoryHistory:
    """Each VM's CPU by name, one frame per recorded snapshot (at most one a ``step_s``),
    kept for ``keep_s``: a migrated VM's samples follow it."""

    def __init__(self, step_s: float, keep_s: float = 86400.0) -> None:
        self.step_s = step_s
        self.keep_s = keep_s
        self._frames: list[_Frame] = []

    def record(self, snapshot: Snapshot) -> None:
        now = snapshot.taken_at
        if self._frames and now - self._frames[-1].at < self.step_s - 1e-9:
            return
        last = self._frames[-1] if self._frames else None
        names = tuple(v.name for v in snapshot.vms)
        if last is not None and last.names == names:
            names, index = last.names, last.index
        else:
            index = {n: i for i, n in enumerate(names)}
        cpu = np.array([v.cpu_used for v in snapshot.vms], dtype=np.float64)
        self._frames.append(_Frame(now, names, index, cpu))
        while self._frames and now - self._frames[0].at > self.keep_s:
            self._frames.pop(0)

    def matrix(self, snapshot: Snapshot, window_s: float, step_s: float) -> FloatArray:
        n = max(1, int(window_s / step_s + 1e-9))
        now = snapshot.taken_at
        names = tuple(v.name for v in snapshot.vms)
        out = np.full((len(names), n), np.nan)
        out[:, -1] = [v.cpu_used for v in snapshot.vms]
        frames = self._frames
        j = len(frames) - 1
        for col in range(n - 2, -1, -1):
            t = now - (n - 1 - col) * step_s
            while j >= 0 and frames[j].at > t + 1e-9:
                j -= 1
            if j < 0:
                break
            f = frames[j]
            if f.names == names:
                out[:, col] = f.cpu
            else:
                rows = [f.index.get(name, -1) for name in names]
                have = np.array([r >= 0 for r in rows], dtype=np.bool_)
                out[have, col] = f.cpu[[r for r in rows if r >= 0]]
        # A VM known for less long: its oldest sample, back to the window's start.
        for col in range(n - 2, -1, -1):
            gap = np.isnan(out[:, col])
            out[gap, col] = out[gap, col + 1]
        return out


@dataclass
class MemoryCoordination:
    """Leads under ``current`` while ``leading``."""

    current: int = 1
    leading: bool = True

    def epoch(self) -> int | None:
        return self.current if self.leading else None


@dataclass
class MemoryStore:
    """Memory, records and intents in memory; writes fenced by ``fence`` if given."""

    memory: CycleMemory = field(default_factory=CycleMemory)
    records: list[CycleRecord] = field(default_factory=list)
    paused: Pause | None = None
    evacuations: dict[str, Evacuation] = field(default_factory=dict)
    fence: MemoryCoordination | None = None

    def _current(self, epoch: int) -> bool:
        return self.fence is None or self.fence.current == epoch

    def load(self) -> CycleMemory:
        return self.memory

    def save(self, memory: CycleMemory, record: CycleRecord, epoch: int) -> bool:
        if not self._current(epoch):
            return False
        self.memory = memory
        self.records.append(record)
        return True

    def intents(self) -> Intents:
        return Intents(paused=self.paused, evacuations=tuple(self.evacuations.values()))

    def update_evacuations(self, evacuations: tuple[Evacuation, ...], epoch: int) -> bool:
        if not self._current(epoch):
            return False
        for e in evacuations:
            self.evacuations[e.id] = e
        return True


@dataclass
class MemorySink:
    """Keeps what it is sent; says a plan is in flight while ``flight`` says so."""

    sent: list[tuple[str, int, Plan]] = field(default_factory=list)
    flight: InFlight = field(default_factory=InFlight)
    cancelled: list[tuple[frozenset[str], frozenset[str]]] = field(default_factory=list)

    def send(self, plan: Plan, snapshot: Snapshot, epoch: int, plan_id: str) -> int:
        self.sent.append((plan_id, epoch, plan))
        return len(plan.moves) + len(plan.power)

    def in_flight(self) -> InFlight:
        return self.flight

    def cancel(self, vms: frozenset[str], hosts: frozenset[str]) -> int:
        self.cancelled.append((vms, hosts))
        self.flight = InFlight()
        return len(vms) + len(hosts)
