"""``balancer worker`` (run a Celery migration worker) and ``balancer execute`` (enqueue a
plan's waves). See docs/executor.md."""

from __future__ import annotations

import os
import sys

import click
import msgspec
import redis

from balancer.core.plan import Plan
from balancer.core.validate import plan_problems
from balancer.errors import InputError
from balancer.snapshot_file import load_snapshot, read_document
from balancer.state.connect import DEFAULT_URL, check_url, redis_error, redis_from_url

#: ``--hypervisor`` → ``BALANCER_HYPERVISOR`` (workers/runtime.py).
HYPERVISORS = {"libvirt": "libvirt", "sim": "fleet", "sim-file": "sim"}


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.option("--concurrency", default=2, show_default=True, help="Moves run at once.")
@click.option("--name", default="balancer@%h", show_default=True, help="Worker node name.")
@click.option("--redis", "redis_url", help="Broker and store [env BALANCER_REDIS_URL].")
@click.option(
    "--hypervisor",
    type=click.Choice(sorted(HYPERVISORS)),
    help="libvirt hosts; sim: the simulated fleet in the store (balancer fleet sim); "
    "sim-file: a per-process simulation from BALANCER_SIM_FILE [env BALANCER_HYPERVISOR, "
    "else libvirt].",
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker_command(
    concurrency: int,
    name: str,
    redis_url: str | None,
    hypervisor: str | None,
    celery_args: tuple[str, ...],
) -> None:
    """Run a migration worker (environment: BALANCER_REDIS_URL, BALANCER_LIBVIRT_URIS,
    BALANCER_MIGRATION_URIS; see docs/executor.md, "Deployment"; with --hypervisor sim,
    docs/fleet.md). Arguments after ``--`` go to ``celery worker``."""
    if hypervisor == "sim-file" and not os.environ.get("BALANCER_SIM_FILE"):
        raise InputError("sim-file needs BALANCER_SIM_FILE", "--hypervisor")
    if redis_url:
        check_url(redis_url)
        os.environ["BALANCER_REDIS_URL"] = redis_url
    if hypervisor:
        os.environ["BALANCER_HYPERVISOR"] = HYPERVISORS[hypervisor]
    argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
            "-Q", "migrations", "--pool", "threads", "--concurrency", str(concurrency),
            "-n", name, "--without-gossip", "--without-mingle", "--without-heartbeat",
            *celery_args]  # fmt: skip
    os.execv(sys.executable, argv)


@click.command("execute")
@click.option("--plan", "plan_path", required=True, metavar="FILE", help="Plan JSON.")
@click.option("--snapshot", "snapshot_path", required=True, metavar="FILE",
              help="The snapshot the plan was made from (the VMs' facts).")  # fmt: skip
@click.option("--redis", "redis_url", envvar="BALANCER_REDIS_URL", default=DEFAULT_URL,
              show_default=True, help="Broker URL [env BALANCER_REDIS_URL].")  # fmt: skip
def execute_command(plan_path: str, snapshot_path: str, redis_url: str) -> None:
    """Queue a plan: its waves run one after the other on the migration workers.

    The plan is checked against the snapshot first, and refused (exit 2, the reasons,
    nothing queued) if it was made from another generation or would move a VM that is
    not where it says, twice, to an unknown, off or unfit host, or past a slot or a
    capacity. Prints the workflow's id: its result succeeds once every wave has, and
    fails if a wave has a failed task (the later waves do not run). Only the orders go to
    the queue (never the snapshot); power actions name the host, each worker powers it
    with its own driver configuration (BALANCER_POWER_FILE). See docs/executor.md.

    Example: balancer plan --snapshot now.json --json > plan.json &&
    balancer execute --plan plan.json --snapshot now.json
    """
    from workers.celery_app import make_app  # noqa: PLC0415 - celery only when used
    from workers.dispatch import new_id, send_plan  # noqa: PLC0415

    try:
        plan = msgspec.json.decode(read_document(plan_path), type=Plan)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(f"cannot read plan: {exc}", "--plan") from None
    snapshot = load_snapshot(snapshot_path)
    problems = plan_problems(snapshot, plan)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InputError(f"the plan does not fit the snapshot: {'; '.join(problems[:3])}{more}",
                         "--plan")  # fmt: skip
    _reachable(redis_url)
    app = make_app(redis_url)
    try:
        sent = send_plan(app, plan, snapshot, epoch=None, plan_id=f"cli-{new_id()}")
    finally:
        app.close()
    click.echo(f"plan {sent.plan_id}: {len(sent.migrations)} move(s), {len(sent.power)} "
               f"power action(s) in {sent.waves} wave(s)", err=True)  # fmt: skip
    click.echo(sent.workflow_id)


def _reachable(url: str) -> None:
    """The broker answers (a bad URL, no server or a missing password: one line now, not
    Celery's retries for 20 s)."""
    client = redis_from_url(url, timeout_s=3.0)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise redis_error(exc, url) from None
    finally:
        client.close()
