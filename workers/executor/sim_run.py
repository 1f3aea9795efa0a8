"""One simulated migration and how it advances in time (the pre-copy model, stepwise).

A migration sends ``bandwidth`` MiB/s; round 0 sends the guest's non-zero memory, each
later round re-sends what the guest dirtied during the previous one (capped by its working
set); it stops the guest for the last round once that round fits in the max downtime.
Post-copy finishes the round in flight and ends; a suspended guest stops dirtying. With
auto-converge armed, QEMU's rule: after a round in which the guest dirtied more than half
of what was sent, its vCPUs are throttled (20 %, then 10 more each such round, at most
99 %), and it dirties that much slower.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from balancer.errors import MigrationAbortedError, PermanentError
from workers.executor.sim_vm import SimVm

if TYPE_CHECKING:
    from collections.abc import Callable

POSTCOPY_DOWNTIME_MS = 40


@dataclass
class SimRun:
    vm: str
    source: str
    dest: str
    bandwidth: float
    max_downtime_ms: int
    started: float
    offline: bool
    last: float
    pending: float
    sent_in_round: float = 0.0
    dirtied: float = 0.0
    total_sent: float = 0.0
    iteration: int = 0
    postcopy: bool = False
    postcopy_allowed: bool = False
    ended: bool = False
    error: str | None = None
    downtime_ms: float = 0.0
    resume_after: bool = False
    auto_converge: bool = False
    #: The throttle on the guest's vCPUs (%), auto-converge's.
    throttle: int = 0


def advance(run: SimRun, spec: SimVm, now: float) -> float | None:
    """Move ``run`` on to ``now``; the time it finished at, if it did (then it has ended
    and the guest is running again if the migration paused it)."""
    dt, run.last = now - run.last, now
    while dt > 1e-9 and not run.ended:
        left = run.pending - run.sent_in_round
        limit = run.bandwidth * run.max_downtime_ms / 1000.0
        if run.postcopy or (run.sent_in_round == 0 and run.pending <= limit):
            # Stop and copy the rest (post-copy: pages follow on demand, short pause).
            need = left / run.bandwidth
            if need > dt:
                run.sent_in_round += run.bandwidth * dt
                run.total_sent += run.bandwidth * dt
                return None
            run.total_sent += left
            run.downtime_ms = POSTCOPY_DOWNTIME_MS if run.postcopy else need * 1000
            run.ended = True
            if run.resume_after:
                spec.state = "running"
            return now - dt + need
        step = min(dt, left / run.bandwidth)
        run.sent_in_round += run.bandwidth * step
        run.total_sent += run.bandwidth * step
        if spec.state == "running":
            rate = spec.dirty_mib_s * (100 - run.throttle) / 100
            run.dirtied = min(run.dirtied + rate * step, spec.working_set_mib)
        dt -= step
        if run.pending - run.sent_in_round <= 1e-9:
            run.iteration += 1
            if run.auto_converge and run.iteration > 1 and run.dirtied > run.pending / 2:
                run.throttle = 20 if run.throttle == 0 else min(99, run.throttle + 10)
            run.pending, run.sent_in_round, run.dirtied = run.dirtied, 0.0, 0.0
    return None


class RunHandle:
    """``MigrationRun`` of a simulated migration; ``poll`` advances it and says if it ended."""

    def __init__(self, vm: str, run: SimRun, poll: Callable[[SimRun], bool]) -> None:
        self.vm, self._run, self._poll = vm, run, poll

    def done(self) -> bool:
        return self._poll(self._run)

    def result(self) -> None:
        if not self.done():
            raise PermanentError(f"{self.vm}: result() before the migration ended")
        if self._run.error is not None:
            raise MigrationAbortedError(f"{self.vm}: {self._run.error}")
