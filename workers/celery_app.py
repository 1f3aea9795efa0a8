"""The Celery app of kvm-balancer's workers: Redis broker and result backend.

Settings a migration queue needs (docs/executor.md):
- JSON only (no pickle), ``acks_late`` + ``task_reject_on_worker_lost``: a task whose
  worker dies is delivered again (the executor converges instead of migrating twice);
- prefetch 1: a worker never sits on a migration another worker could run;
- ``visibility_timeout`` (Redis): how long an unacknowledged task stays invisible before
  redelivery; it must exceed the longest migration (the completion timeout), default 2 h;
- priorities (Redis: 0 is served first), one mapping from a move's ``MoveReason`` and a
  power action's ``PowerReason``: evacuation 0 → power-on for capacity 2 → relief 4 →
  balance (and an operator's move) 6 → consolidation, replacement, power-off (energy
  saving) 9; the objectives' moves take their objective's ``PRIORITY``
  (``balancer.core.objectives.REGISTRY``: a registered objective's reason and priority
  join the table). kombu keeps one list per step (``migrations``,
  ``migrations:1`` … ``migrations:9``, ``sep=":"``) and BRPOPs them in that order. A
  message without a priority would land in step 0 (kombu's default) and overtake an
  evacuation, so every task has a default priority in ``task_routes`` (``TASK_PRIORITY``,
  balance for any other), which both ``apply_async`` and ``send_task`` consult; a sender's
  own ``priority=`` wins. (No ``task_default_priority``: it would override the routes.)

Environment: ``BALANCER_REDIS_URL`` (broker and backend), ``BALANCER_VISIBILITY_TIMEOUT_S``.
A ``rediss://`` URL is the store's (``rediss://worker:pw@redis:6380/0?ssl_ca_certs=/ca.pem``):
the server's certificate is verified (``balancer.state.connect.tls_options``).
"""

from __future__ import annotations

import os
from typing import Literal

from celery import Celery

from balancer.core.objectives import REGISTRY as OBJECTIVES
from balancer.core.plan import MoveReason, PowerReason
from balancer.state.connect import DEFAULT_URL, tls_options

#: The named priority levels: the objectives' own, and those of other intents.
PRIORITY = {
    "evacuate": OBJECTIVES["evacuate"].PRIORITY,
    "power-on": 2,
    "relief": 4,
    "balance": OBJECTIVES["balance"].PRIORITY,
    "energy": OBJECTIVES["consolidate"].PRIORITY,
}
#: A move's priority by the intent it serves, beyond the objectives' reasons.
_OTHER_MOVES: dict[MoveReason, int] = {
    MoveReason.RELIEF: PRIORITY["relief"],
    MoveReason.OPERATOR: PRIORITY["balance"],
    MoveReason.REPLACEMENT: PRIORITY["energy"],
}
DEFAULT_VISIBILITY_TIMEOUT_S = 7200
MIGRATION_QUEUE = "migrations"
#: Default priority of each task when its sender names none.
TASK_PRIORITY = {
    "balancer.migrate": PRIORITY["balance"],
    "balancer.wave_done": PRIORITY["balance"],
    "balancer.power_on": PRIORITY["power-on"],
    "balancer.power_off": PRIORITY["energy"],
}


def move_priorities() -> dict[MoveReason, int]:
    """Each move reason's priority: the registered objectives' (the first to claim a
    reason gives it its priority), then the other intents'."""
    out: dict[MoveReason, int] = {}
    for objective in OBJECTIVES.values():
        out.setdefault(objective.REASON, objective.PRIORITY)
    return {**_OTHER_MOVES, **out}


def move_priority(reason: MoveReason) -> int:
    return move_priorities()[reason]


def power_priority(action: Literal["on", "off"], reason: PowerReason) -> int:
    """A power-on serves capacity (an evacuation's at the evacuation's priority); a
    power-off saves energy."""
    if action == "off":
        return PRIORITY["energy"]
    return PRIORITY["evacuate"] if reason == PowerReason.EVACUATION else PRIORITY["power-on"]


class BalancerCelery(Celery):  # type: ignore[misc]  # celery ships no type hints
    """Our app: ``close()`` closes the sockets the app opened, then the app.

    ``Celery.close`` only forgets the broker pool: its connections, the producers', the
    result backend's and its pub/sub connection (``AsyncResult.get``) stay open until the
    garbage collector finds them, in no set order (an unclosed-socket ResourceWarning, a
    TLS session the server keeps). The pools are kombu's, shared by every app on the same
    URL (and the producers' connections come from the broker pool), so the broker pool is
    reset, not closed: its connections are closed and it refills with unopened ones, which
    another app on the same URL can still use. Close it when no other thread of this
    process is sending on that URL.
    """

    def close(self) -> None:
        backend = self.backend
        consumer = getattr(backend, "result_consumer", None)
        if consumer is not None:
            consumer.stop()
        client = getattr(backend, "client", None)
        if client is not None:
            client.connection_pool.disconnect()
        pool = self.pool
        pool.resize(pool.limit, reset=True)  # kombu's public "close all, then set up again"
        super().close()


def make_app(redis_url: str | None = None, visibility_timeout_s: int | None = None) -> Celery:
    url = redis_url or os.environ.get("BALANCER_REDIS_URL", DEFAULT_URL)
    visibility = visibility_timeout_s or int(
        os.environ.get("BALANCER_VISIBILITY_TIMEOUT_S", DEFAULT_VISIBILITY_TIMEOUT_S)
    )
    app = BalancerCelery("kvm_balancer", broker=url, backend=url, include=["workers.tasks"])
    tls = tls_options(url)
    if tls is not None:
        app.conf.update(broker_use_ssl=tls, redis_backend_use_ssl=tls)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=MIGRATION_QUEUE,
        task_routes={
            **{
                name: {"queue": MIGRATION_QUEUE, "priority": p} for name, p in TASK_PRIORITY.items()
            },
            "*": {"queue": MIGRATION_QUEUE, "priority": PRIORITY["balance"]},
        },
        broker_transport_options={
            "visibility_timeout": visibility,
            "queue_order_strategy": "priority",
            "priority_steps": list(range(10)),
            "sep": ":",
        },
        result_backend_transport_options={"visibility_timeout": visibility},
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_track_started=True,
        result_expires=7 * 86400,
        worker_hijack_root_logger=False,
        # No remote control (pidbox): whoever may publish on its channel could shut
        # workers down; cancelling goes through the executor's fence (docs/security.md).
        worker_enable_remote_control=False,
        enable_utc=True,
        timezone="UTC",
    )
    return app


app = make_app()
