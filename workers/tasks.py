"""Thin Celery tasks: decode → executor → map errors to a retry with backoff or a failure.

- ``migrate(order)``: one move (``workers.executor.order.MigrationOrder`` as JSON); returns
  its ``MigrationRecord`` (result ``completed``, ``fenced`` or ``cancelled``);
- ``power_on(order)`` / ``power_off(order)``: a guarded, fenced power action
  (``PowerOrder``: the host, the epoch, ids; the driver comes from the worker's own
  configuration, ``BALANCER_POWER_FILE``); returns the result;
- ``wave_done(plan_id, wave, waves, workflow_id)``: closes a wave of a plan sent by
  ``workers.dispatch.send_plan`` and queues the next; ``plan_failed`` passes an earlier
  wave's failure on to the workflow's result.

``RetryableError`` (a held lease, no free slot, Redis or a host unreachable) → retry after
``compute_backoff``; ``PermanentError`` → the task fails with the executor's message (the
record is in Redis by then). A refused task (stale epoch, cancelled) succeeds with its
record: it is not a failure and is not retried. A Redis error that reaches this edge
untranslated is translated here (``redis_edge``). Nothing is swallowed.
"""

from __future__ import annotations

import logging
import random
from typing import Any, NoReturn

import msgspec
import redis
from celery import Task

from balancer.core.backoff import compute_backoff
from balancer.errors import BusyError, RetryableError
from balancer.state.exec_stats import record_count
from workers import dispatch
from workers.celery_app import app
from workers.executor.order import decode, decode_power
from workers.executor.redis_edge import translate
from workers.power import actions
from workers.runtime import runtime

log = logging.getLogger(__name__)
MAX_RETRIES = 20
POWER_ON_TIMEOUT_S = 600.0


def _retry(task: Task, exc: RetryableError, exhausted: Any = None) -> NoReturn:
    """Retry after a backoff; once the retries are spent, ``exhausted(exc)`` first."""
    if task.request.retries >= MAX_RETRIES and exhausted is not None:
        exhausted(exc)
    kind = "busy" if isinstance(exc, BusyError) else "unavailable"
    rt = runtime()
    record_count(rt.client, rt.keys, f"retry:{str(task.name).removeprefix('balancer.')}:{kind}")
    delay = compute_backoff(task.request.retries + 1, factor=1.0, cap=60.0, rand=random.random())
    raise task.retry(exc=exc, countdown=delay, max_retries=MAX_RETRIES)


def _edge(exc: redis.RedisError, what: str) -> RetryableError:
    """A Redis error as ours: retryable comes back, permanent is raised."""
    ours = translate(exc, what)
    if isinstance(ours, RetryableError):
        return ours
    raise ours from exc


@app.task(bind=True, name="balancer.migrate", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def migrate(self: Task, order: dict[str, Any]) -> dict[str, Any]:
    move, token = decode(order), str(self.request.id)
    executor = runtime().executor
    try:
        try:
            record = executor.run(move, token=token)
        except redis.RedisError as exc:
            raise _edge(exc, f"migrate {move.vm}") from exc
    except RetryableError as exc:
        _retry(self, exc, lambda e: executor.give_up(move, token, f"gave up retrying: {e}"))
    result: dict[str, Any] = msgspec.to_builtins(record)
    return result


@app.task(bind=True, name="balancer.power_on", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def power_on(self: Task, order: dict[str, Any]) -> str:
    power, rt = decode_power(order), runtime()
    try:
        try:
            return actions.power_on(power, rt.power_driver, rt.power_deps(), str(self.request.id),
                                    timeout_s=POWER_ON_TIMEOUT_S)  # fmt: skip
        except redis.RedisError as exc:
            raise _edge(exc, f"power {power.host} on") from exc
    except RetryableError as exc:
        _retry(self, exc)


@app.task(bind=True, name="balancer.power_off", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def power_off(self: Task, order: dict[str, Any]) -> str:
    power, rt = decode_power(order), runtime()
    try:
        try:
            return actions.power_off(power, rt.power_driver, rt.hv, rt.power_deps(),
                                     str(self.request.id))  # fmt: skip
        except redis.RedisError as exc:
            raise _edge(exc, f"power {power.host} off") from exc
    except RetryableError as exc:
        _retry(self, exc)


@app.task(bind=True, name="balancer.wave_done", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def wave_done(self: Task, plan_id: str, wave: int, waves: int, workflow_id: str) -> dict[str, Any]:
    """Closes a wave of a plan (runs once every task of the wave has succeeded) and queues
    the next one; the last wave's is the plan's workflow result."""
    if wave < waves:
        rt = runtime()
        try:
            try:
                dispatch.send_next_wave(self.app, rt.client, rt.keys, plan_id, wave + 1,
                                        workflow_id)  # fmt: skip
            except redis.RedisError as exc:
                raise _edge(exc, f"queue wave {wave + 1} of plan {plan_id}") from exc
        except RetryableError as exc:
            _retry(self, exc)
    return {"plan_id": plan_id, "wave": wave, "waves": waves}


@app.task(name="balancer.plan_failed")  # type: ignore[untyped-decorator]
def plan_failed(
    request: Any, exc: BaseException, traceback: Any, plan_id: str, wave: int, workflow_id: str
) -> None:
    """Errback of an earlier wave's ``wave_done``: a task of the wave failed for good, so
    the later waves never run; the workflow's result fails with the same ``ChordError``."""
    log.warning("plan %s: wave %d failed (%s); later waves cancelled", plan_id, wave, exc)
    app.backend.mark_as_failure(workflow_id, exc)
