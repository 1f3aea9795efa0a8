"""``balancer plan``: a dry run — nothing is sent, nothing is written.

- Without ``--snapshot``: what the leading daemon would do now and why, from the store
  (``balancer.daemon.dry_run``: the store's snapshot, the daemon's history, memory,
  intents and plan in flight through ``decide()``); with a policy override
  (``--objective``, ``--evacuate``, ``--headroom``...), what the planner would do on the
  store's snapshot under that policy.
- With ``--snapshot FILE``: the plan for the cluster in a document (what-if).

Exit status: 0 planned; 2 bad input; 3 the plan leaves VMs on a host to be emptied
(maintenance, draining, or ``evacuate_hosts``; listed), whatever the objective.
"""

from __future__ import annotations

import sys
from typing import Any

import click
import msgspec
from rich.console import Console

from balancer.cli.daemon_cmd import _settings as control_settings
from balancer.cli.options import NAME, Finite, prefix_option, redis_option, store_client
from balancer.cli.render import render_explanation, render_plan, render_unmovable
from balancer.cli.text import shown
from balancer.core.emptying import left_behind
from balancer.core.explain import explain
from balancer.core.models import MAX_AMOUNT, MAX_COUNT, Policy, Snapshot
from balancer.core.objectives import names as objective_names
from balancer.core.plan import Plan, Unmovable
from balancer.core.planner import plan
from balancer.core.validate import bounded, check_policy
from balancer.errors import IncompleteError, InputError
from balancer.snapshot_file import load_snapshot
from balancer.state.keys import Keys

EXIT_INCOMPLETE = 3
_encoder = msgspec.json.Encoder()


class ObjectiveChoice(click.Choice[str]):
    """The registered objectives (``balancer.core.objectives``), read when the command
    runs: one registered by a plugin is offered too."""

    def __init__(self) -> None:
        super().__init__(objective_names())

    @property
    def choices(self) -> tuple[str, ...]:
        return objective_names()

    @choices.setter
    def choices(self, value: tuple[str, ...]) -> None:
        """Click's constructor sets the choices; the registry is read instead."""


@click.command("plan")
@click.option(
    "--snapshot",
    "snapshot_path",
    metavar="FILE",
    help="Plan a snapshot document (v1 JSON; '-' reads standard input) instead of the live store.",
)
@click.option(
    "--objective",
    type=ObjectiveChoice(),
    help="Plan under this objective (the policy's override) instead of as the daemon would.",
)
@click.option(
    "--evacuate",
    "evacuate_hosts",
    multiple=True,
    metavar="HOST",
    type=NAME,
    help="Host to empty (repeatable); implies --objective evacuate unless given.",
)
@click.option(
    "--headroom",
    type=Finite(0, 1, high_open=True),
    help="Fraction of each host kept free (policy override).",
)
@click.option("--max-migrations", type=click.IntRange(0, MAX_COUNT), help="Cap on migrations.")
@click.option("--allow-postcopy/--no-postcopy", default=None, help="Allow post-copy switching.")
@click.option(
    "--capacity-mode",
    type=click.Choice(["cpu+memory", "cpu-only"]),
    help="Count memory against capacity, or CPU only.",
)
@click.option(
    "--now",
    type=Finite(0, MAX_AMOUNT),
    metavar="UNIX_S",
    help="Planning time, with --snapshot (default: the snapshot's taken_at).",
)
@click.option(
    "--settings",
    "settings_text",
    metavar="FILE|JSON",
    help="The daemon's settings to decide by [those the last daemon started with].",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--explain", "explain_vm", metavar="VM", type=NAME, help="Say why VM stays or goes.")
@redis_option
@prefix_option
def plan_command(
    snapshot_path: str | None,
    objective: str | None,
    evacuate_hosts: tuple[str, ...],
    headroom: float | None,
    max_migrations: int | None,
    allow_postcopy: bool | None,
    capacity_mode: str | None,
    now: float | None,
    settings_text: str | None,
    fmt: str,
    as_json: bool,
    explain_vm: str | None,
    redis_url: str,
    prefix: str,
) -> None:
    """Plan migrations and power actions: a dry run, nothing is sent.

    Without --snapshot: what the leading daemon would do now and why, from the store.
    With a policy override (--objective, --evacuate, --headroom, ...): the planner's
    plan under it. Exit status: 0 planned; 2 bad input; 3 the plan leaves VMs on a host
    to be emptied (maintenance, draining or evacuate_hosts), whatever the objective.

    Examples: balancer plan ; balancer plan --explain web-1 ;
    balancer plan --snapshot cluster.json --objective consolidate --json
    """
    overrides: dict[str, Any] = {}
    if evacuate_hosts:
        overrides["evacuate_hosts"] = evacuate_hosts
        overrides["objective"] = objective or "evacuate"
    elif objective:
        overrides["objective"] = objective
    for key, value in (
        ("headroom", headroom),
        ("max_migrations", max_migrations),
        ("allow_postcopy", allow_postcopy),
        ("capacity_mode", capacity_mode),
    ):
        if value is not None:
            overrides[key] = value
    if snapshot_path is None and now is not None:
        raise InputError(
            "--now plans a snapshot document at another time: give --snapshot", "--now"
        )
    if snapshot_path is not None and settings_text is not None:
        raise InputError(
            "the daemon's settings apply to the live store, not to --snapshot", "--settings"
        )
    if overrides and settings_text is not None:
        raise InputError(
            "--settings is for the daemon's decision; a policy override plans without it",
            "--settings",
        )
    json_out = as_json or fmt == "json"
    if snapshot_path is not None:
        snapshot = load_snapshot(snapshot_path)
        what_if(snapshot, overrides, now, json_out, explain_vm, "")
        return
    with store_client(redis_url) as client:
        keys = Keys(prefix)
        if overrides:
            from balancer.daemon.dry_run import daemon_now  # noqa: PLC0415
            from balancer.state.snapshot_read import snapshot_from_redis  # noqa: PLC0415

            snapshot = snapshot_from_redis(client, keys=keys, now=daemon_now(client, keys))
        else:
            as_the_daemon(client, keys, settings_text, json_out, explain_vm)
            return
    what_if(snapshot, overrides, None, json_out, explain_vm, "the store's snapshot")


def what_if(
    snapshot: Snapshot,
    overrides: dict[str, Any],
    now: float | None,
    json_out: bool,
    explain_vm: str | None,
    source: str,
) -> None:
    policy: Policy = bounded(msgspec.structs.replace(snapshot.policy, **overrides))
    check_policy(snapshot, policy, "--evacuate" if "evacuate_hosts" in overrides else "policy")
    result = plan(snapshot, policy, now=now)
    stuck = left_behind(snapshot, policy, result)
    extra = {"source": source} if source else {}
    _show(snapshot, policy, result, stuck, json_out, explain_vm, extra, "")


def as_the_daemon(
    client: Any, keys: Keys, settings_text: str | None, json_out: bool, explain_vm: str | None
) -> None:
    from balancer.daemon.dry_run import dry_run  # noqa: PLC0415

    settings = control_settings(settings_text) if settings_text is not None else None
    run = dry_run(client, keys, settings=settings)
    d, flight = run.decision, run.flight
    daemon: dict[str, Any] = {
        "intents": list(d.intents),
        "summary": d.summary,
        "settings": run.settings_from,
        "paused": run.intents.paused is not None,
        "following": None
        if not run.following
        else {"plan_id": flight.plan_id, "done": flight.done, "total": flight.total},
    }
    line = f"the daemon would decide: {d.summary}"
    if run.following:
        line = (
            f"the daemon follows plan {flight.plan_id} ({flight.done} of {flight.total} "
            f"done) and decides nothing new until it ends; then, as things stand: {d.summary}"
        )
    _show(
        run.snapshot,
        d.policy,
        d.plan,
        run.left_behind(),
        json_out,
        explain_vm,
        {"daemon": daemon},
        line,
    )


def _show(
    snapshot: Snapshot,
    policy: Policy,
    result: Plan,
    stuck: tuple[Unmovable, ...],
    json_out: bool,
    explain_vm: str | None,
    extra: dict[str, Any],
    line: str,
) -> None:
    console = Console(soft_wrap=False, width=max(Console().width, 140))
    if explain_vm is not None:
        ex = explain(snapshot, policy, explain_vm, result)
        if json_out:
            click.echo(_encoder.encode(explanation_doc(ex)).decode())
        else:
            render_explanation(ex, console)
        return
    if json_out:
        doc = msgspec.to_builtins(result)
        doc.update(extra)
        doc["left_behind"] = msgspec.to_builtins(stuck)
        sys.stdout.write(msgspec.json.format(_encoder.encode(doc)).decode() + "\n")
    else:
        if line:
            console.print(shown(line), soft_wrap=True, highlight=False, markup=False)
        render_plan(result, console)
        listed = set(result.unmovable)
        unlisted = tuple(u for u in stuck if u not in listed)
        if unlisted:
            render_unmovable(unlisted, console, "Not moved off hosts to be emptied")
    if stuck:
        names = ", ".join(f"{u.vm} ({u.host}: {u.reason})" for u in stuck[:5])
        more = f" and {len(stuck) - 5} more" if len(stuck) > 5 else ""
        raise IncompleteError(
            f"{len(stuck)} VM(s) stay on hosts to be emptied: {shown(names)}{more}"
        )


def explanation_doc(ex: Any) -> dict[str, Any]:
    """An ``Explanation`` as ``--explain VM --json`` prints it."""
    return {
        "vm": ex.vm,
        "host": ex.host,
        "summary": ex.summary,
        "move": None if ex.move is None else msgspec.to_builtins(ex.move),
        "unmovable": None if ex.unmovable is None else msgspec.to_builtins(ex.unmovable),
        "hosts": [
            {
                "host": h.host,
                "ok": h.ok,
                "rejections": [
                    {"filter": name, "reason": str(v.reason), "detail": v.detail}
                    for name, v in h.rejections
                ],
            }
            for h in ex.hosts
        ],
    }
