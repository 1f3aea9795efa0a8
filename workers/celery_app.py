"""The Celery app of kvm-balancer's workers: Redis broker and result backend.

Settings a migration queue needs (docs/executor.md):
- JSON only (no pickle), ``acks_late`` + ``task_reject_on_worker_lost``: a task whose
  worker dies is delivered again (the executor converges instead of migrating twice);
- prefetch 1: a worker never sits on a migration another worker could run;
- ``visibility_timeout`` (Redis): how long an unacknowledged task stays invisible before
  redelivery; it must exceed the longest migration (the completion timeout), default 2 h;
- priorities (Redis: 0 is served first): evacuation 0 → capacity power-on 3 →
  balance 6 → energy saving 9. kombu keeps one list per step (``migrations``,
  ``migrations:1`` … ``migrations:9``, ``sep=":"``) and BRPOPs them in that order. A
  message without a priority would land in step 0 (kombu's default) and overtake an
  evacuation, so every task has a default priority in ``task_routes`` (``TASK_PRIORITY``,
  balance for any other), which both ``apply_async`` and ``send_task`` consult; a sender's
  own ``priority=`` wins. (No ``task_default_priority``: it would override the routes.)

Environment: ``BALANCER_REDIS_URL`` (broker and backend), ``BALANCER_VISIBILITY_TIMEOUT_S``.
"""

from __future__ import annotations

import os

from celery import Celery

from balancer.core.models import Policy
from balancer.state.connect import DEFAULT_URL

PRIORITY = {"evacuate": 0, "power-on": 3, "balance": 6, "consolidate": 9, "energy": 9}
DEFAULT_VISIBILITY_TIMEOUT_S = 7200
MIGRATION_QUEUE = "migrations"
#: Default priority of each task when its sender names none.
TASK_PRIORITY = {
    "balancer.migrate": PRIORITY["balance"],
    "balancer.execute_plan": PRIORITY["balance"],
    "balancer.wave_done": PRIORITY["balance"],
    "balancer.power_on": PRIORITY["power-on"],
    "balancer.power_off": PRIORITY["energy"],
}


def policy_priority(policy: Policy) -> int:
    """The priority of the moves a policy asks for: evacuation when it empties hosts."""
    if policy.evacuate_hosts or policy.objective == "evacuate":
        return PRIORITY["evacuate"]
    return PRIORITY.get(policy.objective, PRIORITY["balance"])


def make_app(redis_url: str | None = None, visibility_timeout_s: int | None = None) -> Celery:
    url = redis_url or os.environ.get("BALANCER_REDIS_URL", DEFAULT_URL)
    visibility = visibility_timeout_s or int(
        os.environ.get("BALANCER_VISIBILITY_TIMEOUT_S", DEFAULT_VISIBILITY_TIMEOUT_S)
    )
    app = Celery("kvm_balancer", broker=url, backend=url, include=["workers.tasks"])
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
        enable_utc=True,
        timezone="UTC",
    )
    return app


app = make_app()
