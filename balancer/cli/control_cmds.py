"""What an operator asks of the control loop (docs/daemon.md, "What an operator sees"):

    balancer status [--json]              the cluster and the loop at a glance
    balancer pause [--reason T] / resume  the daemon plans nothing new / plans again
    balancer evacuate HOST... [--reason]  maintenance + a durable evacuation per host
    balancer evacuations [--json]         every evacuation and the VMs each host holds
    balancer cancel ID / resume ID        stop an evacuation (queued moves revoked,
                                          running ones finish) / go on with it

Exit codes: 0 done; 2 bad input (unknown host or evacuation, a host already being
evacuated, an evacuation that is not running or cancelled) with a one-line message.
"""

from __future__ import annotations

import getpass
import time

import click
import msgspec
import redis

from balancer.cli.state_cmds import prefix_option, redis_option, store_client
from balancer.daemon.status import Status, read_status
from balancer.state.intents_store import (
    pause,
    read_intents,
    set_evacuation_state,
    start_evacuation,
    unpause,
)
from balancer.state.keys import Keys

json_flag = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _ago(now: float, at: float) -> str:
    seconds = max(0.0, now - at)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def render_status(s: Status, now: float) -> str:
    lines = []
    if s.leader is None:
        lines.append(f"leader      none (last epoch {s.epoch})")
    else:
        lines.append(
            f"leader      {s.leader.id}, epoch {s.leader.epoch}, since {_ago(now, s.leader.since)}"
        )
    lines.append("paused      " + (f"yes ({s.paused_reason})" if s.paused else "no"))
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
            f"{c.moves_planned} planned, {c.moves_sent} sent ({why})"
        )
        if c.summary:
            lines.append(f"            {c.summary}")
    for e in s.evacuations:
        if e.state != "done":
            lines.append(f"evacuation  {e.id}: {e.host} {e.state}, {e.vms_left} VM(s) left")
    return "\n".join(lines)


@click.command("status")
@redis_option
@prefix_option
@json_flag
def status_command(redis_url: str, prefix: str, as_json: bool) -> None:
    """The cluster and its control loop at a glance: leader and epoch, pause, hosts by
    state, VMs, migrations in flight, evacuations, the last cycle.

    Example: balancer status --json | jq .leader
    """
    now = time.time()
    with store_client(redis_url) as client:
        status = read_status(client, Keys(prefix), now=now)
    if as_json:
        click.echo(msgspec.json.encode(status).decode())
    else:
        click.echo(render_status(status, now))


@click.command("pause")
@click.option("--reason", default="", help="Why (shown by `balancer status`).")
@redis_option
@prefix_option
def pause_command(reason: str, redis_url: str, prefix: str) -> None:
    """Pause the daemon: it plans nothing new (running evacuations go on unless
    cancelled; moves already queued finish). `balancer resume` undoes it.

    Example: balancer pause --reason "network work in rack 4"
    """
    with store_client(redis_url) as client:
        pause(client, Keys(prefix), by=_who(), reason=reason, now=time.time())
    click.echo("paused: the daemon plans nothing new (evacuations go on)")


@click.command("resume")
@click.argument("evacuation", metavar="[ID]", required=False)
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


@click.command("evacuate")
@click.argument("hosts", metavar="HOST...", nargs=-1, required=True)
@click.option("--reason", default="", help="Why (shown by `balancer hosts` and `status`).")
@click.option("--draining", is_flag=True, help="Put the hosts in draining rather than maintenance.")
@redis_option
@prefix_option
def evacuate_command(
    hosts: tuple[str, ...], reason: str, draining: bool, redis_url: str, prefix: str
) -> None:
    """Empty HOSTs: each goes to maintenance and a durable evacuation is recorded; the
    leading daemon moves its VMs away first of all. Survives daemon restarts and leader
    changes; `balancer cancel ID` stops it.

    Example: balancer evacuate kvm-03 --reason "DIMM replacement"
    """
    keys = Keys(prefix)
    state = "draining" if draining else "maintenance"
    with store_client(redis_url) as client:
        _check_known(client, keys, hosts)
        for host in hosts:
            e = start_evacuation(
                client, keys, host, reason=reason, by=_who(), state=state, now=time.time()
            )
            click.echo(f"{e.id}: {host} is in {state}; its VMs will leave")


def _check_known(client: redis.Redis, keys: Keys, hosts: tuple[str, ...]) -> None:
    """Every host known and not already being evacuated, before any is touched."""
    from balancer.errors import InputError  # noqa: PLC0415

    stored = read_intents(client, keys).intents
    for host in hosts:
        if not client.sismember(keys.hosts, host):
            raise InputError(f"unknown host {host!r}: no agent has reported it", "HOST")
        for e in stored.evacuations:
            if e.host == host and e.state != "done":
                raise InputError(f"{host} is already being evacuated ({e.id}, {e.state})", "HOST")
    if len(set(hosts)) != len(hosts):
        raise InputError("a host is named twice", "HOST")


@click.command("evacuations")
@redis_option
@prefix_option
@json_flag
def evacuations_command(redis_url: str, prefix: str, as_json: bool) -> None:
    """Every evacuation: its host, state and the VMs the host still holds.

    Example: balancer evacuations --json
    """
    now = time.time()
    with store_client(redis_url) as client:
        status = read_status(client, Keys(prefix), now=now)
    if as_json:
        click.echo(msgspec.json.encode(status.evacuations).decode())
        return
    if not status.evacuations:
        click.echo("no evacuations")
    for e in status.evacuations:
        click.echo(
            f"{e.id}  {e.host}  {e.state}  {e.vms_left} VM(s) left of {e.vms_total}"
            + (f"  ({e.reason})" if e.reason else "")
        )


@click.command("cancel")
@click.argument("evacuation", metavar="ID")
@redis_option
@prefix_option
def cancel_command(evacuation: str, redis_url: str, prefix: str) -> None:
    """Cancel a running evacuation: its queued moves are revoked (running ones finish)
    and the daemon leaves the host and its VMs alone until `balancer resume ID`. The
    host stays in maintenance (`balancer host clear-state HOST` brings it back).

    Example: balancer cancel ev-kvm-03-1764651000
    """
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        e = set_evacuation_state(client, keys, evacuation, "cancelled", now=time.time())
        revoked = revoke_queued_moves(client, keys, e.host)
    click.echo(f"{e.id}: evacuation of {e.host} cancelled; {revoked} queued move(s) revoked")


def revoke_queued_moves(client: redis.Redis, keys: Keys, host: str) -> int:
    """Revoke the queued moves out of ``host`` of the plan in flight."""
    from balancer.daemon.celery_sink import revoke_moves_from  # noqa: PLC0415

    return revoke_moves_from(client, keys, host)
