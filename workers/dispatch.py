"""Sending a plan to the workers, and cancelling its moves (what the daemon and ``balancer
execute`` call).

A plan in Celery carries only what its tasks need: one ``MigrationOrder`` per move (the
VM's facts the executor uses, the policy's limits, the plan's id and the fencing epoch)
and one ``PowerOrder`` per power action (the host, the epoch, ids: the worker takes the
driver from its own configuration). Never the snapshot: at 10,000 hosts it is hundreds
of MB. The orders are built here, on the sending side, from the plan and the snapshot.

The workflow is one Celery chain: each wave a group of its tasks (moves, power-ons and
power-offs in their wave) closed by ``balancer.wave_done``; wave *n + 1* is queued once
every task of wave *n* has succeeded (a fenced or cancelled task succeeds, with its
record: the waves after it run and are refused in turn). A task that failed for good
stops the later waves and fails the workflow (the last ``wave_done``) with a
``ChordError``. Each task's Celery id is its migration (or power-task) id, so the records,
``plan_results`` and a revocation all name the same thing. Priorities follow each
task's reason (``workers.celery_app.MOVE_PRIORITY``, ``power_priority``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
import redis
from celery import Celery, chain, group

from balancer.core.models import Snapshot
from balancer.core.plan import Plan
from balancer.errors import InputError
from balancer.state.keys import Keys
from workers.celery_app import PRIORITY, move_priority, power_priority
from workers.executor.fence import Fence
from workers.executor.order import encode, order_from_move, power_order


class SentPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What was sent: ids to follow the plan by (JSON-encodable, for the daemon to keep)."""

    plan_id: str
    epoch: int | None
    #: VM → its migration id (= the Celery task id; the key of its records).
    migrations: dict[str, str]
    #: Host → the power task's id.
    power: dict[str, str]
    #: The last ``wave_done``: succeeds once every wave has, fails once a task failed.
    workflow_id: str
    waves: int


def new_id() -> str:
    return str(uuid.uuid4())


def plan_signatures(
    app: Celery, plan: Plan, snapshot: Snapshot, *, epoch: int | None, plan_id: str
) -> tuple[list[list[Any]], dict[str, str], dict[str, str]]:
    """The plan's task signatures, one list per wave in order; VM → migration id; host →
    power task id."""
    vms = {vm.name: vm for vm in snapshot.vms}
    waves: dict[int, list[Any]] = {}
    migrations: dict[str, str] = {}
    power: dict[str, str] = {}
    for move in plan.moves:
        vm = vms.get(move.vm)
        if vm is None:
            raise InputError(f"plan moves {move.vm}, which the snapshot lacks", "moves")
        mid = migrations[move.vm] = new_id()
        order = order_from_move(move, vm, snapshot.policy, id=mid, plan_id=plan_id, epoch=epoch)
        sig = app.signature("balancer.migrate", args=(encode(order),), immutable=True)
        waves.setdefault(move.wave, []).append(
            sig.set(task_id=mid, priority=move_priority(move.reason))
        )
    for action in plan.power:
        pid = power[action.host] = new_id()
        order_ = power_order(action, id=pid, plan_id=plan_id, epoch=epoch)
        sig = app.signature(f"balancer.power_{action.action}", args=(encode(order_),),
                            immutable=True)  # fmt: skip
        waves.setdefault(action.wave, []).append(
            sig.set(task_id=pid, priority=power_priority(action.action, action.reason))
        )
    return [waves[w] for w in sorted(waves)], migrations, power


def send_plan(
    app: Celery, plan: Plan, snapshot: Snapshot, *, epoch: int | None, plan_id: str
) -> SentPlan:
    """Queue ``plan``'s waves under ``epoch`` (None: an operator's plan, not fenced by
    leadership) as ``plan_id``; the orders take the VMs' facts from ``snapshot``."""
    waves, migrations, power = plan_signatures(app, plan, snapshot, epoch=epoch,
                                               plan_id=plan_id)  # fmt: skip
    top = min((o.options["priority"] for wave in waves for o in wave), default=PRIORITY["balance"])
    links: list[Any] = []
    for number, wave in enumerate(waves, start=1):
        done = app.signature("balancer.wave_done", args=(plan_id, number, len(waves)),
                             immutable=True).set(priority=top)  # fmt: skip
        links += [group(wave), done]
    if not links:
        links = [app.signature("balancer.wave_done", args=(plan_id, 0, 0), immutable=True)]
    result = chain(*links).apply_async(app=app) if len(links) > 1 else links[0].apply_async()
    return SentPlan(plan_id=plan_id, epoch=epoch, migrations=migrations, power=power,
                    workflow_id=str(result.id), waves=len(waves))  # fmt: skip


def cancel_plan_moves(client: redis.Redis, keys: Keys, migration_ids: Iterable[str]) -> int:
    """Cancel moves (or power tasks, or whole plans by their plan id): a worker's fence
    refuses each of them before its next libvirt action (recorded ``cancelled``); a
    migration already running finishes (no further ladder rung). Returns how many ids
    were not cancelled before."""
    return Fence(client, keys).cancel(migration_ids)
