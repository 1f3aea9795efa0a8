"""``balancer migrate VM --to HOST``: move one VM now. The planner builds the move from
the store's snapshot (every filter and rule applies; a refusal says why, exit 2, nothing
queued); the move is queued as ``balancer.migrate`` for the workers (the task id is
printed), or run in this process with ``--inline``. ``--wait`` follows its progress.

Exit status: 0 queued (or, waiting, migrated); 1 the migration failed or the store is
unreachable; 2 bad input or a move the planner refuses.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import click
import msgspec
import redis

from balancer.cli.follow import follow, summary
from balancer.cli.single_move import MODES, plan_single_move, with_mode
from balancer.core.models import Snapshot
from balancer.errors import BalancerError, PermanentError, RetryableError
from balancer.state.connect import DEFAULT_URL, redact_url, redis_from_url
from balancer.state.keys import DEFAULT_PREFIX, Keys
from balancer.state.snapshot_read import snapshot_from_redis
from workers.executor.order import MigrationOrder, encode, order_from_move

PRIORITIES = ("evacuate", "power-on", "relief", "balance", "energy")
INLINE_HELP = ("Run the move in this process, not on a worker (with the worker's environment: "
               "BALANCER_HYPERVISOR, BALANCER_LIBVIRT_URIS); implies --wait.")  # fmt: skip


@click.command("migrate")
@click.argument("vm")
@click.option("--to", "dest", required=True, metavar="HOST", help="Destination host.")
@click.option("--mode", type=click.Choice(list(MODES)), default="auto", show_default=True,
              help="How to move it; auto: the planner's choice for the VM's state.")  # fmt: skip
@click.option("--redis", "redis_url", envvar="BALANCER_REDIS_URL", default=DEFAULT_URL,
              show_default=True, help="The store and broker [env BALANCER_REDIS_URL].")  # fmt: skip
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix in Redis.")
@click.option("--priority", type=click.Choice(PRIORITIES), default="balance", show_default=True,
              help="Queue priority (evacuate is served first).")  # fmt: skip
@click.option("--wait", is_flag=True, help="Follow the progress; exit 1 if the move fails.")
@click.option("--inline", is_flag=True, help=INLINE_HELP)
@click.option("--dry-run", is_flag=True, help="Print the planned move; queue nothing.")
def migrate_command(vm: str, dest: str, mode: str, redis_url: str, prefix: str, priority: str,
                    wait: bool, inline: bool, dry_run: bool) -> None:  # fmt: skip
    """Move VM to HOST now, as the planner allows (a plan of this one move).

    Exit status: 0 queued (with --wait/--inline: migrated); 1 the move failed; 2 bad
    input or the planner refuses the move (the message says why).
    """
    client = redis_from_url(redis_url)
    try:
        snapshot = _read_snapshot(client, redis_url, prefix)
        order = _order(snapshot, vm, dest, mode)
        if dry_run:
            click.echo(msgspec.json.encode(encode(order)).decode())
        elif inline:
            _run_inline(client, redis_url, prefix, order)
        else:
            _queue(client, redis_url, prefix, order, priority, wait)
    finally:
        client.close()


def _read_snapshot(client: redis.Redis, url: str, prefix: str) -> Snapshot:
    try:
        return snapshot_from_redis(client, keys=Keys(prefix))
    except redis.RedisError as exc:
        raise RetryableError(f"Redis {redact_url(url)}: {exc}") from None


def _order(snapshot: Snapshot, vm: str, dest: str, mode: str) -> MigrationOrder:
    planned = plan_single_move(snapshot, vm, dest)
    the_vm = next(v for v in snapshot.vms if v.name == vm)
    move = with_mode(planned, the_vm, snapshot, mode)
    order = order_from_move(move, the_vm, snapshot.policy, id=str(uuid.uuid4()))
    if move.mode != planned.mode:
        order = msgspec.structs.replace(order, predicted=None)  # priced for another mode
    click.echo(f"{vm}: {move.source} → {move.to} ({move.mode}, estimated "
               f"{move.estimate.duration_s:.1f} s)", err=True)  # fmt: skip
    return order


def _queue(client: redis.Redis, url: str, prefix: str, order: MigrationOrder, priority: str,
           wait: bool) -> None:  # fmt: skip
    from workers.celery_app import PRIORITY, make_app  # noqa: PLC0415 - celery only when used

    app = make_app(url)
    try:
        result = app.send_task("balancer.migrate", args=[encode(order)], task_id=order.id,
                               priority=PRIORITY[priority])  # fmt: skip
        click.echo(result.id)
        if not wait:
            return

        def waiting() -> str:
            state = str(result.state)
            return {"PENDING": "queued", "RETRY": "waiting for a lease or slot (retrying)",
                    "STARTED": "starting"}.get(state, state.lower())  # fmt: skip

        follow(client, prefix, order.vm, result.ready, waiting)
        outcome = result.get(propagate=False)
        if result.failed():
            raise PermanentError(f"migration of {order.vm} failed: "
                                 f"{type(outcome).__name__}: {outcome}")  # fmt: skip
        _report(outcome)
    finally:
        app.close()


def _run_inline(client: redis.Redis, url: str, prefix: str, order: MigrationOrder) -> None:
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
    _report(box["outcome"])


def _report(record: dict[str, Any]) -> None:
    """The record's line; a move that did not complete (cancelled) exits 1."""
    click.echo(summary(record))
    if record["result"] != "completed":
        raise PermanentError(f"migration of {record['vm']} {record['result']}: {record['detail']}")
