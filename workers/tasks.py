"""Thin Celery tasks: decode → executor → map errors to a retry with backoff or a failure.

- ``migrate(order)``: one move (``workers.executor.order.MigrationOrder`` as JSON);
- ``execute_plan(plan, snapshot, drivers)``: a plan's waves, one Celery group per wave, in a
  chain, each closed by ``wave_done`` (the last one's result is the workflow's);
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
from workers.celery_app import PRIORITY, app, policy_priority
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
    """The plan as a chain: each wave a group, then ``wave_done``. A wave starts when every
    task of the wave before has succeeded; a task that failed (after its retries) stops
    the waves after it, and the workflow's result (the last ``wave_done``'s) fails with a
    ``ChordError`` naming it."""
    waves = plan_waves(plan, snapshot, drivers, priority)
    links: list[Any] = []
    for number, wave in enumerate(waves, start=1):
        done = wave_done.si(plan.generation, number, len(waves)).set(priority=priority)
        links += [group(wave), done]
    return chain(*links) if links else wave_done.si(plan.generation, 0, 0).set(priority=priority)


@app.task(name="balancer.wave_done")  # type: ignore[untyped-decorator]
def wave_done(generation: int, wave: int, waves: int) -> dict[str, int]:
    """Closes a wave of a plan: runs once every task of the wave has succeeded."""
    return {"generation": generation, "wave": wave, "waves": waves}


@app.task(name="balancer.execute_plan")  # type: ignore[untyped-decorator]
def execute_plan(
    plan: dict[str, Any], snapshot: dict[str, Any], drivers: dict[str, dict[str, str]]
) -> str:
    """Enqueue the plan's waves; return the workflow's task id (the last ``wave_done``'s): it
    succeeds when every wave has, and fails once a wave has a failed task."""
    the_plan = msgspec.convert(plan, Plan)
    the_snapshot = msgspec.convert(snapshot, Snapshot)
    priority = policy_priority(the_snapshot.policy)
    result = plan_workflow(the_plan, the_snapshot, drivers, priority).apply_async()
    return str(result.id)
