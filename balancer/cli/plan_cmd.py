"""``balancer plan``: turn a snapshot into a plan (what-if, dry run; nothing is executed)."""

from __future__ import annotations

import sys

import click
import msgspec
from rich.console import Console

from balancer.cli.render import render_explanation, render_plan
from balancer.core.explain import explain
from balancer.core.models import Policy
from balancer.core.planner import plan
from balancer.core.validate import check_policy
from balancer.errors import InputError
from balancer.snapshot_file import load_snapshot

EXIT_INCOMPLETE = 3


@click.command("plan")
@click.option(
    "--snapshot",
    "snapshot_path",
    required=True,
    metavar="FILE",
    help="Snapshot document (v1 JSON); '-' reads standard input.",
)
@click.option(
    "--objective",
    type=click.Choice(["balance", "consolidate", "evacuate"]),
    help="Override the snapshot policy's objective.",
)
@click.option(
    "--evacuate",
    "evacuate_hosts",
    multiple=True,
    metavar="HOST",
    help="Host to empty (repeatable); implies --objective evacuate unless given.",
)
@click.option(
    "--headroom",
    type=click.FloatRange(0, 1, max_open=True),
    help="Fraction of each host kept free (policy override).",
)
@click.option("--max-migrations", type=click.IntRange(min=0), help="Cap on migrations.")
@click.option("--allow-postcopy/--no-postcopy", default=None, help="Allow post-copy switching.")
@click.option(
    "--capacity-mode",
    type=click.Choice(["cpu+memory", "cpu-only"]),
    help="Count memory against capacity, or CPU only.",
)
@click.option(
    "--now", type=float, metavar="UNIX_S", help="Planning time (default: the snapshot's taken_at)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--explain", "explain_vm", metavar="VM", help="Say why VM stays or goes.")
@click.pass_context
def plan_command(
    ctx: click.Context,
    snapshot_path: str,
    objective: str | None,
    evacuate_hosts: tuple[str, ...],
    headroom: float | None,
    max_migrations: int | None,
    allow_postcopy: bool | None,
    capacity_mode: str | None,
    now: float | None,
    fmt: str,
    explain_vm: str | None,
) -> None:
    """Plan migrations and power actions for the cluster in a snapshot.

    Exit status: 0 planned; 2 bad input; 3 an evacuation that leaves VMs behind.
    """
    snapshot = load_snapshot(snapshot_path)
    changes: dict[str, object] = {}
    if evacuate_hosts:
        changes["evacuate_hosts"] = evacuate_hosts
        changes["objective"] = objective or "evacuate"
    elif objective:
        changes["objective"] = objective
    for key, value in (
        ("headroom", headroom),
        ("max_migrations", max_migrations),
        ("allow_postcopy", allow_postcopy),
        ("capacity_mode", capacity_mode),
    ):
        if value is not None:
            changes[key] = value
    policy: Policy = msgspec.structs.replace(snapshot.policy, **changes)
    check_policy(snapshot, policy, "--evacuate" if evacuate_hosts else "policy")
    result = plan(snapshot, policy, now=now)
    console = Console(soft_wrap=False, width=max(Console().width, 140))
    if explain_vm is not None:
        ex = explain(snapshot, policy, explain_vm, result)
        render_explanation(ex, console)
        return
    if fmt == "json":
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(result)).decode() + "\n")
    else:
        render_plan(result, console)
    leaving = set(policy.evacuate_hosts)
    if policy.objective == "evacuate" and any(u.host in leaving for u in result.unmovable):
        ctx.exit(EXIT_INCOMPLETE)


__all__ = ["InputError", "plan_command"]
