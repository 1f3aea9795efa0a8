"""What one move's steps share: the executor's collaborators (``Deps``) and what has
happened to the move so far (``Move``: when it started, the steps taken with reasons,
whether the guest was paused, which rung finished it, whether the fence has stopped the
ladder)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence, Ticket
from workers.executor.hypervisor import Attachments, Hypervisor
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
    #: The VM's disks and networks on its source before the move (what verification
    #: expects on the destination); ``None`` when not read (an adopted migration).
    expected: Attachments | None = None
    #: QEMU's auto-converge throttle last seen (%), and when it last changed.
    throttle: int = 0
    throttle_at: float = 0.0
    #: The first and the latest source job sample that had sent data: ``(job elapsed
    #: ms, bytes sent)`` (the transfer rate the link carried, ``transfer_mib_s``).
    first_sent: tuple[int, int] | None = None
    last_sent: tuple[int, int] | None = None

    def saw(self, elapsed_ms: int, sent: int) -> None:
        """A sample of the source's job: ``sent`` bytes (memory and disks) so far."""
        if sent <= 0:
            return
        if self.first_sent is None:
            self.first_sent = (elapsed_ms, sent)
        self.last_sent = (elapsed_ms, sent)

    def transfer_mib_s(self, min_span_ms: int = 1000) -> float | None:
        """Bytes sent over the job time between the first and the latest sample that
        had sent data (``None`` when they span less than ``min_span_ms``): the link's
        rate, without the set-up on either side (the destination QEMU's start, the
        connection) that the completed job's elapsed time includes."""
        if self.first_sent is None or self.last_sent is None:
            return None
        span_ms = self.last_sent[0] - self.first_sent[0]
        sent = self.last_sent[1] - self.first_sent[1]
        if span_ms < min_span_ms or sent <= 0:
            return None
        return sent / (1 << 20) / (span_ms / 1000)

    @property
    def ticket(self) -> Ticket:
        o = self.order
        return Ticket(id=o.id, plan_id=o.plan_id, epoch=o.epoch, token=self.token)

    def step(self, now: float, step: str, reason: str, value: int | None = None) -> None:
        at = round(now - self.started, 3)
        self.steps.append(Step(at_s=at, step=step, reason=reason, value=value))
