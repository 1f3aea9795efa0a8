"""What one move's steps share: the executor's collaborators (``Deps``) and what has
happened to the move so far (``Move``: when it started, the steps taken with reasons,
whether the guest was paused, which rung finished it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from workers.executor.coordination import Coordinator
from workers.executor.hypervisor import Hypervisor
from workers.executor.order import MigrationOrder
from workers.executor.records import Recorder, Step


@dataclass(frozen=True)
class Deps:
    hv: Hypervisor
    coord: Coordinator
    rec: Recorder
    clock: Callable[[], float]
    sleep: Callable[[float], None]


@dataclass
class Move:
    order: MigrationOrder
    started: float
    steps: list[Step] = field(default_factory=list)
    #: The ladder paused the guest on its source (resume it there if the move aborts).
    suspended: bool = False
    #: The rung that let the migration finish ("" for a plain migration).
    finished_by: str = ""

    def step(self, now: float, step: str, reason: str, value: int | None = None) -> None:
        at = round(now - self.started, 3)
        self.steps.append(Step(at_s=at, step=step, reason=reason, value=value))
