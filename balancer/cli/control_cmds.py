"""What an operator asks of the control loop (docs/daemon.md, "What an operator sees";
docs/operators.md):

    balancer status [--json] [--watch]    the cluster and the loop at a glance
    balancer pause [--reason T] / resume  the daemon plans nothing new / plans again
    balancer resume ID                    a cancelled evacuation goes on

Evacuations (``evacuate``, ``evacuations``, ``cancel``, ``drain``, ``undrain``) are in
``evacuation_cmds``. Exit codes: 0 done; 2 bad input with a one-line message.
"""

from __future__ import annotations

import getpass
import time

import click
import msgspec
from rich.text import Text

from balancer.cli.options import (
    NAME,
    check_text,
    clock_option,
    make_clock,
    prefix_option,
    redis_option,
    store_client,
)
from balancer.cli.text import shown
from balancer.cli.watch import EVERY, watch
from balancer.daemon.status import Status, read_status
from balancer.state.intents_store import pause, set_evacuation_state, unpause
from balancer.state.keys import Keys

json_flag = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _ago(now: float, at: float) -> str:
    seconds = max(0.0, now - at)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def render_status(s: Status, now: float) -> str:
    """The status as lines of text (every name escaped)."""
    lines = []
    if s.leader is None:
        lines.append(f"leader      none (last epoch {s.epoch}): no daemon acts")
    else:
        lines.append(
            f"leader      {shown(s.leader.id)}, epoch {s.leader.epoch}, "
            f"since {_ago(now, s.leader.since)}"
        )
    lines.append("paused      " + (f"yes ({shown(s.paused_reason)})" if s.paused else "no"))
    lines.append("hosts       " + ", ".join(f"{n} {state}" for state, n in s.hosts.items()))
    lines.append(f"vms         {s.vms}")
    lines.append(f"migrating   {s.migrations_in_flight}")
    c = s.last_cycle
    if c is None:
        lines.append("last cycle  none yet")
    else:
        why = ", ".join(f"{n} {r}" for r, n in sorted(c.reasons.items())) or "no moves"
        lines.append(
            f"last cycle  {_ago(now, c.at)} ({c.seconds:.1f} s, epoch {c.epoch}): {c.outcome}; "
            f"{c.moves_planned} planned, {c.moves_sent} sent ({shown(why)})"
        )
        if c.summary:
            lines.append(f"            {shown(c.summary)}")
    for e in s.evacuations:
        if e.state != "done":
            lines.append(
                f"evacuation  {shown(e.id)}: {shown(e.host)} {e.state}, {e.vms_left} VM(s) left"
            )
    return "\n".join(lines)


@click.command("status")
@redis_option
@prefix_option
@json_flag
@click.option("--watch", "watching", is_flag=True, help="Refresh until Ctrl-C.")
@click.option(
    "--every",
    type=EVERY,
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between refreshes with --watch.",
)
@clock_option
def status_command(
    redis_url: str, prefix: str, as_json: bool, watching: bool, every: float, clock: str
) -> None:
    """The cluster and its control loop at a glance: leader and epoch, pause, hosts by
    state, VMs, migrations in flight, evacuations, the last cycle. With --watch, again
    every --every seconds until Ctrl-C (with --json: one object a line).

    Examples: balancer status --json | jq .leader ; balancer status --watch
    """
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        the_clock = make_clock(clock, client, keys)

        def view() -> Text:
            now = the_clock.now()
            status = read_status(client, keys, now=now)
            if as_json:
                return Text(msgspec.json.encode(status).decode())
            return Text(render_status(status, now))

        if watching:
            watch(view, every)
        else:
            click.echo(view().plain)


@click.command("pause")
@click.option("--reason", default="", help="Why (shown by `balancer status`).")
@redis_option
@prefix_option
def pause_command(reason: str, redis_url: str, prefix: str) -> None:
    """Pause the daemon: it plans nothing new (running evacuations go on unless
    cancelled; moves already queued finish). `balancer resume` undoes it.

    Example: balancer pause --reason "network work in rack 4"
    """
    check_text(reason, "--reason")
    with store_client(redis_url) as client:
        pause(client, Keys(prefix), by=who(), reason=reason, now=time.time())
    click.echo("paused: the daemon plans nothing new (evacuations go on)")


@click.command("resume")
@click.argument("evacuation", metavar="[ID]", required=False, type=NAME)
@redis_option
@prefix_option
def resume_command(evacuation: str | None, redis_url: str, prefix: str) -> None:
    """Without ID: the daemon plans again after `balancer pause`. With ID: a cancelled
    evacuation goes on.

    Examples: balancer resume ; balancer resume ev-kvm-03-1764651000
    """
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        if evacuation is None:
            was = unpause(client, keys)
            click.echo("resumed" if was else "the daemon was not paused")
            return
        e = set_evacuation_state(client, keys, evacuation, "running", now=time.time())
    click.echo(f"{e.id}: evacuation of {e.host} resumed")
