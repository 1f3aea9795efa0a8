"""Sending a plan to the workers, and cancelling its moves (what the daemon and ``balancer
execute`` call).

A plan in Celery carries only what its tasks need: one ``MigrationOrder`` per move (the
VM's facts the executor uses, the policy's limits, the plan's id and the fencing epoch)
and one ``PowerOrder`` per power action (the host, the epoch, ids: the worker takes the
driver from its own configuration). Never the snapshot: at 10,000 hosts it is hundreds
of MB. The orders are built here, on the sending side, from the plan and the snapshot.

Waves run in order: each wave is a Celery chord — a group of its tasks (moves, power-ons
and power-offs of that wave) whose callback ``balancer.wave_done`` runs once every task
of the wave has succeeded, and queues the next wave. The later waves wait in Redis
(``Keys.plan_waves``), not inside the first wave's messages: a Celery chain of chords
would copy every later wave into every message of the first (a chord's body rides with
each header task), so the bytes grew as moves × later moves (``python -m balancer.bench
dispatch``: 800 moves in 4 waves made 106 MB of messages). A fenced or cancelled task
succeeds, with its record: the waves after it run and are refused in turn. A task that
failed for good stops the later waves; the workflow's result (``SentPlan.workflow_id``,
the last wave's callback) then fails with the ``ChordError`` naming it. Each task's
Celery id is its migration (or power-task) id, so the records, ``plan_results`` and a
revocation all name the same thing. Priorities follow each task's reason
(``workers.celery_app.move_priority``, ``power_priority``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import msgspec
import redis
from celery import Celery, chord, group
from redis.typing import EncodableT

from balancer.core.models import Snapshot
from balancer.core.plan import Plan
from balancer.errors import InputError
from balancer.state.connect import redis_from_url
from balancer.state.keys import DEFAULT_KEYS, PLAN_KEEP_S, Keys
from workers.celery_app import PRIORITY, move_priority, power_priority
from workers.executor.fence import Fence
from workers.executor.order import encode, order_from_move, power_order
from workers.executor.redis_edge import redis_edge


class SentPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What was sent: ids to follow the plan by (JSON-encodable, for the daemon to keep)."""

    plan_id: str
    epoch: int | None
    #: VM → its migration id (= the Celery task id; the key of its records).
    migrations: dict[str, str]
    #: Host → the power task's id.
    power: dict[str, str]
    #: The last wave's ``wave_done``: succeeds once every wave has, fails once a task failed.
    workflow_id: str
    waves: int


class TaskSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One task of a wave: its name, id, priority and order (``encode``d)."""

    task: str
    id: str
    priority: int
    order: dict[str, Any]


class Waves(msgspec.Struct, frozen=True, kw_only=True):
    plan_id: str
    waves: list[list[TaskSpec]]
    migrations: dict[str, str]
    power: dict[str, str]


def new_id() -> str:
    return str(uuid.uuid4())


def plan_waves(plan: Plan, snapshot: Snapshot, *, epoch: int | None, plan_id: str) -> Waves:
    """The plan's tasks, one list per wave in order (pure: no Celery, no Redis)."""
    vms = {vm.name: vm for vm in snapshot.vms}
    hosts = {h.name: h for h in snapshot.hosts}
    waves: dict[int, list[TaskSpec]] = {}
    migrations: dict[str, str] = {}
    power: dict[str, str] = {}
    for move in plan.moves:
        vm = vms.get(move.vm)
        if vm is None:
            raise InputError(f"plan moves {move.vm}, which the snapshot lacks", "moves")
        mid = migrations[move.vm] = new_id()
        order = order_from_move(move, vm, snapshot.policy, id=mid, plan_id=plan_id, epoch=epoch,
                                dest=hosts.get(move.to))  # fmt: skip
        waves.setdefault(move.wave, []).append(TaskSpec(
            task="balancer.migrate", id=mid, priority=move_priority(move.reason),
            order=encode(order)))  # fmt: skip
    for action in plan.power:
        pid = power[action.host] = new_id()
        order_ = power_order(action, id=pid, plan_id=plan_id, epoch=epoch)
        priority = power_priority(action.action, action.reason)
        waves.setdefault(action.wave, []).append(TaskSpec(
            task=f"balancer.power_{action.action}", id=pid, priority=priority,
            order=encode(order_)))  # fmt: skip
    return Waves(plan_id=plan_id, waves=[waves[w] for w in sorted(waves)],
                 migrations=migrations, power=power)  # fmt: skip


def wave_chord(
    app: Celery, plan_id: str, number: int, specs: list[TaskSpec], waves: int, workflow_id: str
) -> Any:
    """Wave ``number`` of ``waves``: its tasks, then ``wave_done`` (the workflow's result
    for the last wave; an earlier one's failure is passed on to it by ``plan_failed``)."""
    tasks = [app.signature(s.task, args=(s.order,), immutable=True).set(task_id=s.id,
             priority=s.priority) for s in specs]  # fmt: skip
    top = min((s.priority for s in specs), default=PRIORITY["balance"])
    last = number == waves
    done = app.signature("balancer.wave_done", args=(plan_id, number, waves, workflow_id),
                         immutable=True).set(priority=top,
                                             task_id=workflow_id if last else new_id())  # fmt: skip
    if not last:
        done = done.on_error(app.signature("balancer.plan_failed",
                                           args=(plan_id, number, workflow_id)))  # fmt: skip
    return chord(group(tasks, app=app), done, app=app)


def send_plan(
    app: Celery,
    plan: Plan,
    snapshot: Snapshot,
    *,
    epoch: int | None,
    plan_id: str,
    client: redis.Redis | None = None,
    keys: Keys = DEFAULT_KEYS,
) -> SentPlan:
    """Queue ``plan``'s first wave under ``epoch`` (None: an operator's plan, not fenced by
    leadership) as ``plan_id``, and keep the later waves in Redis (``client``; default:
    the app's broker) for the workers to queue in turn."""
    built = plan_waves(plan, snapshot, epoch=epoch, plan_id=plan_id)
    workflow_id, count = new_id(), len(built.waves)
    if count > 1:
        store = client or redis_from_url(str(app.conf.broker_url))
        try:
            _store_waves(store, keys, built, workflow_id)
        finally:
            if client is None:
                store.close()
    if count:
        wave_chord(app, plan_id, 1, built.waves[0], count, workflow_id).apply_async()
    else:
        done = app.signature("balancer.wave_done", args=(plan_id, 0, 0, workflow_id),
                             immutable=True).set(task_id=workflow_id)  # fmt: skip
        done.apply_async()
    release(app, [*built.migrations.values(), *built.power.values(), workflow_id])
    return SentPlan(plan_id=plan_id, epoch=epoch, migrations=built.migrations, power=built.power,
                    workflow_id=workflow_id, waves=count)  # fmt: skip


def release(app: Celery, task_ids: Iterable[str]) -> None:
    """Drop this process's interest in the results of tasks it sent. Sending a group makes
    Celery's Redis backend subscribe the sender to every header task's result channel and
    keep a result object per task (for the group's barrier) until the result is read —
    which a sender that only follows ids and records never does: a daemon or a worker
    queueing waves for months would keep them all. Without Celery's bookkeeping
    (another result backend) there is nothing to release."""
    backend = app.backend
    pending = getattr(backend, "_pending_results", None)
    consumer = getattr(backend, "result_consumer", None)
    if pending is None or consumer is None:
        return
    for task_id in task_ids:
        for mapping in pending:
            mapping.pop(task_id, None)
        consumer.cancel_for(task_id)


def _store_waves(client: redis.Redis, keys: Keys, built: Waves, workflow_id: str) -> None:
    key = keys.plan_waves(built.plan_id)
    fields: dict[EncodableT, EncodableT] = {
        str(n): msgspec.json.encode(w) for n, w in enumerate(built.waves, 1) if n > 1
    }
    fields |= {"waves": str(len(built.waves)), "workflow": workflow_id}
    with (
        redis_edge(f"store the waves of plan {built.plan_id}"),
        client.pipeline(transaction=True) as pipe,
    ):
        pipe.delete(key)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, PLAN_KEEP_S)
        pipe.execute()


def send_next_wave(
    app: Celery, client: redis.Redis, keys: Keys, plan_id: str, number: int, workflow_id: str
) -> bool:
    """Queue wave ``number`` of a sent plan (from ``wave_done`` of the wave before);
    once only, even if that ``wave_done`` is delivered twice. False: already queued, or
    the plan's waves are gone (expired)."""
    key = keys.plan_waves(plan_id)
    with redis_edge(f"read wave {number} of plan {plan_id}"):
        raw, total = client.hmget(key, [str(number), "waves"])
        if raw is None or total is None:
            return False
        if not client.hsetnx(key, f"sent:{number}", "1"):
            return False
    specs = msgspec.json.decode(raw, type=list[TaskSpec])
    try:
        result = wave_chord(app, plan_id, number, specs, int(total), workflow_id).apply_async()
    except Exception:
        with redis_edge(f"unmark wave {number} of plan {plan_id}"):
            client.hdel(key, f"sent:{number}")  # not sent: a retry may send it
        raise
    release(app, [*(s.id for s in specs), str(result.id)])
    return True


def cancel_plan_moves(client: redis.Redis, keys: Keys, migration_ids: Iterable[str]) -> int:
    """Cancel moves (or power tasks, or whole plans by their plan id): a worker's fence
    refuses each of them before its next libvirt action (recorded ``cancelled``); a
    migration already running finishes (no further ladder rung). Returns how many ids
    were not cancelled before."""
    return Fence(client, keys).cancel(migration_ids)
