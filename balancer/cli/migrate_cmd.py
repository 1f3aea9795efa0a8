"""``balancer migrate VM --to HOST``: move one VM now. The planner builds the move from
the store's snapshot (every filter and rule applies; a refusal says why, exit 2, nothing
queued); the move is queued as ``balancer.migrate`` for the workers (the task id is
printed), or run in this process with ``--inline``. ``--wait`` follows its progress.

Exit status: 0 queued (or, waiting, migrated); 1 the migration failed or the store is
unreachable; 2 bad input or a move the planner refuses; 3 no worker took the move within
``--worker-timeout`` (it is then cancelled). ``--json`` prints the queued order's id (or,
waiting, the migration's record) as one JSON object.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import click
import msgspec
import redis

from balancer.cli.follow import follow, summary
from balancer.cli.options import NAME
from balancer.cli.single_move import MODES, plan_single_move, with_mode
from balancer.cli.task_wait import TaskWait, worker_timeout_option
from balancer.core.models import Snapshot
from balancer.errors import BalancerError, InputError, PermanentError
from balancer.state.connect import DEFAULT_URL, redis_error, redis_from_url
from balancer.state.keys import DEFAULT_PREFIX, Keys
from balancer.state.snapshot_read import snapshot_from_redis
from workers.executor.order import MigrationOrder, encode, order_from_move

PRIORITIES = ("evacuate", "power-on", "relief", "balance", "energy")
INLINE_HELP = ("Run the move in this process, not on a worker (with the worker's environment: "
               "BALANCER_HYPERVISOR, BALANCER_LIBVIRT_URIS); implies --wait.")  # fmt: skip


@click.command("migrate")
@click.argument("vm", type=NAME)
@click.option("--to", "dest", required=True, metavar="HOST", type=NAME, help="Destination host.")
@click.option("--from", "source", metavar="HOST", type=NAME,
              help="Only if VM is on this host now (refused otherwise).")  # fmt: skip
@click.option("--mode", type=click.Choice(list(MODES)), default="auto", show_default=True,
              help="How to move it; auto: the planner's choice for the VM's state.")  # fmt: skip
@click.option("--redis", "redis_url", envvar="BALANCER_REDIS_URL", default=DEFAULT_URL,
              show_default=True, help="The store and broker [env BALANCER_REDIS_URL].")  # fmt: skip
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix in Redis.")
@click.option("--priority", type=click.Choice(PRIORITIES), default="balance", show_default=True,
              help="Queue priority (evacuate is served first).")  # fmt: skip
@click.option("--wait", is_flag=True, help="Follow the progress; exit 1 if the move fails.")
@worker_timeout_option("move")
@click.option("--inline", is_flag=True, help=INLINE_HELP)
@click.option("--dry-run", is_flag=True, help="Print the planned move; queue nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def migrate_command(vm: str, dest: str, source: str | None, mode: str, redis_url: str,
                    prefix: str, priority: str, wait: bool, worker_timeout_s: float,
                    inline: bool, dry_run: bool, as_json: bool) -> None:  # fmt: skip
    """Move VM to HOST now, as the planner allows (a plan of this one move).

    Exit status: 0 queued (with --wait/--inline: migrated); 1 the move failed; 2 bad
    input or the planner refuses the move (the message says why); 3 no worker took it
    within --worker-timeout (with --wait; the move is cancelled).

    Examples: balancer migrate web-1 --to kvm-03 --wait ;
    balancer migrate web-1 --from kvm-01 --to kvm-03 --json
    """
    client = redis_from_url(redis_url)
    try:
        snapshot = _read_snapshot(client, redis_url, prefix)
        if source is not None:
            _check_source(snapshot, vm, source)
        order = _order(snapshot, vm, dest, mode)
        if dry_run:
            click.echo(msgspec.json.encode(encode(order)).decode())
        elif inline:
            _run_inline(client, redis_url, prefix, order, as_json)
        else:
            _queue(client, redis_url, prefix, order, priority, wait, worker_timeout_s, as_json)
    except redis.RedisError as exc:
        raise redis_error(exc, redis_url) from None
    finally:
        client.close()


def _read_snapshot(client: redis.Redis, url: str, prefix: str) -> Snapshot:
    try:
        return snapshot_from_redis(client, keys=Keys(prefix))
    except redis.RedisError as exc:
        raise redis_error(exc, url) from None


def _check_source(snapshot: Snapshot, vm: str, source: str) -> None:
    where = next((v.host for v in snapshot.vms if v.name == vm), None)
    if where is None:
        raise InputError(f"no VM named {vm!r} in the store's snapshot", "VM")
    if where != source:
        raise InputError(f"{vm} is not on {source}: it runs on {where}", "--from")


def _order(snapshot: Snapshot, vm: str, dest: str, mode: str) -> MigrationOrder:
    planned = plan_single_move(snapshot, vm, dest)
    the_vm = next(v for v in snapshot.vms if v.name == vm)
    move = with_mode(planned, the_vm, snapshot, mode)
    host = next(h for h in snapshot.hosts if h.name == dest)
    order = order_from_move(move, the_vm, snapshot.policy, id=str(uuid.uuid4()), dest=host)
    if move.mode != planned.mode:
        order = msgspec.structs.replace(order, predicted=None)  # priced for another mode
    click.echo(f"{vm}: {move.source} → {move.to} ({move.mode}, estimated "
               f"{move.estimate.duration_s:.1f} s)", err=True)  # fmt: skip
    return order


def _queue(client: redis.Redis, url: str, prefix: str, order: MigrationOrder, priority: str,
           wait: bool, worker_timeout_s: float, as_json: bool) -> None:  # fmt: skip
    from workers.celery_app import PRIORITY, make_app  # noqa: PLC0415 - celery only when used

    app = make_app(url)
    try:
        result = app.send_task("balancer.migrate", args=[encode(order)], task_id=order.id,
                               priority=PRIORITY[priority])  # fmt: skip
        if not wait:
            click.echo(json.dumps({"id": result.id, "vm": order.vm}) if as_json else result.id)
            return
        if not as_json:
            click.echo(result.id)
        waiting = TaskWait(result, worker_timeout_s)
        follow(client, prefix, order.vm, waiting.over, waiting.describe)
        if not result.ready():
            raise waiting.give_up(app, client, Keys(prefix), f"the move of {order.vm}")
        outcome = result.get(propagate=False)
        if result.failed():
            raise PermanentError(f"migration of {order.vm} failed: "
                                 f"{type(outcome).__name__}: {outcome}")  # fmt: skip
        _report(outcome, as_json)
    finally:
        app.close()


def _run_inline(client: redis.Redis, url: str, prefix: str, order: MigrationOrder,
                as_json: bool) -> None:  # fmt: skip
    from workers.runtime import build_runtime  # noqa: PLC0415 - the hypervisor only when used

    executor = build_runtime(url, prefix).executor
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["outcome"] = msgspec.to_builtins(executor.run(order, token=f"cli-{uuid.uuid4()}"))
        except BalancerError as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"migrate-{order.vm}", daemon=True)
    thread.start()
    follow(client, prefix, order.vm, lambda: not thread.is_alive(), lambda: "starting")
    thread.join()
    if "error" in box:
        raise box["error"]
    _report(box["outcome"], as_json)


def _report(record: dict[str, Any], as_json: bool) -> None:
    """The record's line (or JSON); a move that did not complete (cancelled) exits 1."""
    click.echo(json.dumps(record) if as_json else summary(record))
    if record["result"] != "completed":
        raise PermanentError(f"migration of {record['vm']} {record['result']}: {record['detail']}")
