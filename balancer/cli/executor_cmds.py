"""``balancer worker`` (run a Celery migration worker) and ``balancer execute`` (enqueue a
plan's waves). See docs/executor.md."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import msgspec

from balancer.core.plan import Plan
from balancer.errors import InputError
from balancer.snapshot_file import load_snapshot

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
@click.option("--redis", "redis_url", envvar="BALANCER_REDIS_URL", help="Broker URL.")
def execute_command(plan_path: str, snapshot_path: str, redis_url: str | None) -> None:
    """Queue a plan: its waves run one after the other on the migration workers.

    Prints the workflow's id: its result succeeds once every wave has, and fails if a
    wave has a failed task (the later waves do not run). Only the orders go to the queue
    (never the snapshot); power actions name the host, each worker powers it with its own
    driver configuration (BALANCER_POWER_FILE). See docs/executor.md.
    """
    from workers.celery_app import make_app  # noqa: PLC0415 - celery only when used
    from workers.dispatch import new_id, send_plan  # noqa: PLC0415

    try:
        plan = msgspec.json.decode(Path(plan_path).read_bytes(), type=Plan)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(f"cannot read plan: {exc}", "--plan") from None
    snapshot = load_snapshot(snapshot_path)
    app = make_app(redis_url)
    try:
        sent = send_plan(app, plan, snapshot, epoch=None, plan_id=f"cli-{new_id()}")
    finally:
        app.close()
    click.echo(f"plan {sent.plan_id}: {len(sent.migrations)} move(s), {len(sent.power)} "
               f"power action(s) in {sent.waves} wave(s)", err=True)  # fmt: skip
    click.echo(sent.workflow_id)
