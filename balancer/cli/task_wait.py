"""Waiting for one Celery task a command queued (``migrate --wait``, ``power --wait``):
what it waits for, said in words, and a limit on waiting for a worker to take it.

Celery reports ``PENDING`` until a worker starts the task (the app tracks ``STARTED``):
with no worker running, a wait would last forever and print nothing. Here it says so
("queued, waiting for a worker") and, after ``worker_timeout_s``, gives up: the order is
cancelled in the store's fence (a worker that takes it later refuses it, recorded
``cancelled``) and revoked, and the command exits 3.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click
import redis

from balancer.cli.options import Finite
from balancer.errors import IncompleteError
from balancer.state.keys import Keys

#: ``--worker-timeout``: seconds a queued task may wait for a worker.
WORKER_TIMEOUT = Finite(0, 7 * 86400.0, low_open=True)
DEFAULT_WORKER_TIMEOUT_S = 60.0


def worker_timeout_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--worker-timeout SECONDS`` for a command that queues ``what`` (a move, an action)."""
    return click.option(
        "--worker-timeout",
        "worker_timeout_s",
        type=WORKER_TIMEOUT,
        default=DEFAULT_WORKER_TIMEOUT_S,
        show_default=True,
        metavar="SECONDS",
        help=f"With --wait: cancel the {what} (exit 3) if no worker takes it by then.",
    )


@dataclass
class TaskWait:
    result: Any  # celery.result.AsyncResult
    worker_timeout_s: float
    clock: Callable[[], float] = time.monotonic
    queued_at: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.queued_at = self.clock()

    def untaken(self) -> bool:
        """No worker has taken the task yet."""
        return str(self.result.state) == "PENDING"

    def timed_out(self) -> bool:
        return self.untaken() and self.clock() - self.queued_at > self.worker_timeout_s

    def over(self) -> bool:
        return bool(self.result.ready()) or self.timed_out()

    def describe(self) -> str:
        state = str(self.result.state)
        return {
            "PENDING": f"queued, waiting for a worker to take it (up to "
            f"{self.worker_timeout_s:.0f} s)",
            "RETRY": "waiting for a lease or slot (retrying)",
            "STARTED": "starting",
        }.get(state, state.lower())

    def give_up(self, app: Any, client: redis.Redis, keys: Keys, what: str) -> IncompleteError:
        """Cancel and revoke the task; the error to raise (exit 3)."""
        from workers.dispatch import cancel_plan_moves  # noqa: PLC0415

        task_id = str(self.result.id)
        cancel_plan_moves(client, keys, [task_id])
        app.control.revoke(task_id)
        return IncompleteError(
            f"no worker took {what} within {self.worker_timeout_s:.0f} s (is `balancer worker` "
            f"running on this Redis?); task {task_id} cancelled"
        )
