"""What one move's steps share: the executor's collaborators (``Deps``) and what has
happened to the move so far (``Move``: when it started, the steps taken with reasons,
whether the guest was paused, which rung finished it, whether the fence has stopped the
ladder)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence, Ticket
from workers.executor.hypervisor import Hypervisor
from workers.executor.order import MigrationOrder
from workers.executor.records import Recorder, Step


@dataclass(frozen=True)
class Deps:
    hv: Hypervisor
    fence: Fence
    slots: Coordinator
    rec: Recorder
    clock: Callable[[], float]
    sleep: Callable[[float], None]


@dataclass
class Move:
    order: MigrationOrder
    #: The task's token (the Celery task id): what holds the lease and the slots.
    token: str
    started: float
    steps: list[Step] = field(default_factory=list)
    #: The ladder paused the guest on its source (resume it there if the move aborts).
    suspended: bool = False
    #: The rung that let the migration finish ("" for a plain migration).
    finished_by: str = ""
    #: Why no further rung may be climbed (the epoch went stale, the move was cancelled,
    #: the lease was lost); "" while the ladder may act.
    halted: str = ""
    #: The migration was started (or adopted) and its running record written.
    running: bool = False

    @property
    def ticket(self) -> Ticket:
        o = self.order
        return Ticket(id=o.id, plan_id=o.plan_id, epoch=o.epoch, token=self.token)

    def step(self, now: float, step: str, reason: str, value: int | None = None) -> None:
        at = round(now - self.started, 3)
        self.steps.append(Step(at_s=at, step=step, reason=reason, value=value))
