"""Thin Celery tasks: decode → executor → map errors to a retry with backoff or a failure.

- ``migrate(order)``: one move (``workers.executor.order.MigrationOrder`` as JSON);
- ``execute_plan(plan, snapshot)``: a plan's waves, one Celery group per wave, in a chain;
- ``power_on(host, driver)`` / ``power_off(host, driver)``: guarded power actions.

``RetryableError`` (a held lease, no free slot, a dropped connection) → retry after
``compute_backoff``; ``PermanentError`` → the task fails with the executor's message
(the outcome is recorded in Redis by then). Nothing is swallowed.
"""

from __future__ import annotations

import random
import time
from typing import Any

import msgspec
from celery import Task, chain, group

from balancer.core.backoff import compute_backoff
from balancer.core.models import Snapshot
from balancer.core.plan import Plan
from balancer.errors import InputError, RetryableError
from balancer.state.keys import Keys
from workers.celery_app import PRIORITY, app
from workers.executor.order import decode, encode, order_from_move
from workers.power import actions
from workers.power.registry import build
from workers.runtime import runtime

MAX_RETRIES = 20
POWER_ON_TIMEOUT_S = 600.0


def _retry(task: Task, exc: RetryableError) -> None:
    delay = compute_backoff(task.request.retries + 1, factor=1.0, cap=60.0, rand=random.random())
    raise task.retry(exc=exc, countdown=delay, max_retries=MAX_RETRIES)


@app.task(bind=True, name="balancer.migrate", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def migrate(self: Task, order: dict[str, Any]) -> dict[str, Any]:
    move = decode(order)
    try:
        outcome = runtime().executor.run(move, token=str(self.request.id))
    except RetryableError as exc:
        _retry(self, exc)
        raise  # not reached: retry raises
    result: dict[str, Any] = msgspec.to_builtins(outcome)
    return result


@app.task(bind=True, name="balancer.power_on", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def power_on(self: Task, host: str, driver: dict[str, str]) -> str:
    rt = runtime()
    try:
        actions.power_on(host, build(driver), rt.client, Keys(), timeout_s=POWER_ON_TIMEOUT_S,
                         clock=time.monotonic, sleep=time.sleep)  # fmt: skip
    except RetryableError as exc:
        _retry(self, exc)
        raise
    return host


@app.task(bind=True, name="balancer.power_off", max_retries=MAX_RETRIES)  # type: ignore[untyped-decorator]
def power_off(self: Task, host: str, driver: dict[str, str]) -> str:
    try:
        actions.power_off(host, build(driver), runtime().hv)
    except RetryableError as exc:
        _retry(self, exc)
        raise
    return host


def plan_waves(
    plan: Plan, snapshot: Snapshot, drivers: dict[str, dict[str, str]], priority: int
) -> list[list[Any]]:
    """The plan's task signatures, one list per wave in order (power actions in their wave)."""
    vms = {vm.name: vm for vm in snapshot.vms}
    waves: dict[int, list[Any]] = {}
    for move in plan.moves:
        if move.vm not in vms:
            raise InputError(f"plan moves {move.vm}, which the snapshot lacks", "moves")
        o = encode(order_from_move(move, vms[move.vm], snapshot.policy, plan.generation))
        waves.setdefault(move.wave, []).append(migrate.si(o).set(priority=priority))
    for action in plan.power:
        task = power_on if action.action == "on" else power_off
        spec = drivers.get(action.host)
        if spec is None:
            raise InputError(f"no power driver configured for {action.host}", "power")
        prio = PRIORITY["power-on"] if action.action == "on" else priority
        waves.setdefault(action.wave, []).append(task.si(action.host, spec).set(priority=prio))
    return [waves[w] for w in sorted(waves)]


def plan_workflow(
    plan: Plan, snapshot: Snapshot, drivers: dict[str, dict[str, str]], priority: int
) -> Any:
    """The plan as a chain of groups: a wave starts when the one before has finished."""
    return chain(*(group(wave) for wave in plan_waves(plan, snapshot, drivers, priority)))


@app.task(name="balancer.execute_plan")  # type: ignore[untyped-decorator]
def execute_plan(
    plan: dict[str, Any], snapshot: dict[str, Any], drivers: dict[str, dict[str, str]]
) -> str:
    """Enqueue the plan's waves (each wave starts when the one before has finished)."""
    the_plan = msgspec.convert(plan, Plan)
    the_snapshot = msgspec.convert(snapshot, Snapshot)
    priority = PRIORITY.get(the_snapshot.policy.objective, PRIORITY["balance"])
    if the_snapshot.policy.evacuate_hosts:
        priority = PRIORITY["evacuate"]
    result = plan_workflow(the_plan, the_snapshot, drivers, priority).apply_async()
    return str(result.id)
