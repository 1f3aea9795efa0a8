"""Emptying hosts (docs/operators.md, "A maintenance evacuation"):

    balancer evacuate HOST... [--reason T] [--draining] [--wait]
                                        maintenance + a durable evacuation per host
    balancer drain HOST... [--wait] / undrain HOST...
                                        the same in ``draining`` (empty it, e.g. to power
                                        it off or retire it) / cancel it, host active again
    balancer evacuations [--json]       every evacuation and the VMs each host holds
    balancer cancel ID                  stop an evacuation (queued moves revoked, running
                                        ones finish); ``balancer resume ID`` goes on

Exit codes: 0 done; 2 bad input (an unknown host or evacuation, a host already in
maintenance, draining or being evacuated, ``--wait`` with no daemon leading) with a
one-line message and nothing written; 3 with ``--wait``, VMs that could not leave
(listed with why).
"""

from __future__ import annotations

import time

import click
import msgspec
import redis
from rich.console import Console

from balancer.cli.control_cmds import json_flag, who
from balancer.cli.evacuation_watch import EvacuationWatch, follow_evacuations
from balancer.cli.options import NAME, Finite, check_text, prefix_option, redis_option, store_client
from balancer.cli.render import render_unmovable
from balancer.cli.tables import Column, print_table
from balancer.control.intents import Evacuation
from balancer.daemon.leader import current_leader
from balancer.daemon.status import read_status
from balancer.errors import IncompleteError, InputError
from balancer.state.intents_store import read_intents, set_evacuation_state, start_evacuation
from balancer.state.keys import Keys
from balancer.state.overrides import decode_override

wait_option = click.option(
    "--wait",
    is_flag=True,
    help="Follow the VMs as they leave (a bar per VM and overall); then list those that "
    "could not leave and why, exit 3 if any stays. Needs a daemon leading.",
)
timeout_option = click.option(
    "--timeout",
    "timeout_s",
    type=Finite(0, 30 * 86400.0, low_open=True),
    metavar="SECONDS",
    help="With --wait: stop waiting after this long (exit 3 if VMs stay).",
)


def check_hosts(client: redis.Redis, keys: Keys, hosts: tuple[str, ...]) -> None:
    """Every host known, named once, not in maintenance or draining already and not being
    evacuated: checked for all before any is touched."""
    if len(set(hosts)) != len(hosts):
        raise InputError("a host is named twice", "HOST")
    stored = read_intents(client, keys).intents
    for host in hosts:
        if not client.sismember(keys.hosts, host):
            raise InputError(f"unknown host {host!r}: no agent has reported it", "HOST")
        for e in stored.evacuations:
            if e.host == host and e.state != "done":
                raise InputError(f"{host} is already being evacuated ({e.id}, {e.state})", "HOST")
        raw = client.hget(keys.host_state, host)
        if raw is not None:
            override = decode_override(raw, f"redis:op:host-state[{host}]")  # type: ignore[arg-type]
            if override.state in ("maintenance", "draining"):
                why = f" ({override.reason})" if override.reason else ""
                raise InputError(
                    f"{host} is already in {override.state}{why}; the daemon "
                    "empties it (balancer evacuations)",
                    "HOST",
                )


def _needs_leader(client: redis.Redis, keys: Keys, hosts: tuple[str, ...]) -> None:
    if current_leader(client, keys) is None:
        raise InputError(
            f"no daemon is leading: nothing would empty {', '.join(hosts)} "
            "(start `balancer daemon`, or leave out --wait to record the "
            "evacuation for when one runs)",
            "--wait",
        )


def _start(
    hosts: tuple[str, ...],
    state: str,
    reason: str,
    wait: bool,
    timeout_s: float | None,
    redis_url: str,
    prefix: str,
) -> None:
    from balancer.daemon.dry_run import daemon_now  # noqa: PLC0415

    check_text(reason, "--reason")
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        check_hosts(client, keys, hosts)
        if wait:
            _needs_leader(client, keys, hosts)
        since = daemon_now(client, keys)
        started: list[Evacuation] = []
        for host in hosts:
            e = start_evacuation(
                client, keys, host, reason=reason, by=who(), state=state, now=time.time()
            )
            started.append(e)
            click.echo(f"{e.id}: {host} is in {state}; its VMs will leave")
        if wait:
            _wait(client, keys, started, since, timeout_s)


def _wait(
    client: redis.Redis,
    keys: Keys,
    started: list[Evacuation],
    since: float,
    timeout_s: float | None,
) -> None:
    watch = EvacuationWatch(client, keys, started, since=since - 1.0, timeout_s=timeout_s)
    console = Console(stderr=True)
    result = follow_evacuations(watch, console)
    hosts = ", ".join(e.host for e in started)
    if not result.left:
        click.echo(f"{hosts}: empty after {result.seconds:.0f} s")
        return
    out = Console(soft_wrap=True)
    render_unmovable(result.left, out, "Could not leave")
    why = {
        "cancelled": "the evacuation was cancelled",
        "stalled": "the daemon moves no more",
        "no-leader": "no daemon leads",
        "timeout": "--timeout ran out",
    }[result.ended]
    raise IncompleteError(f"{len(result.left)} VM(s) stay on {hosts}: {why}")


@click.command("evacuate")
@click.argument("hosts", metavar="HOST...", nargs=-1, required=True, type=NAME)
@click.option("--reason", default="", help="Why (shown by `balancer hosts` and `status`).")
@click.option("--draining", is_flag=True, help="Put the hosts in draining rather than maintenance.")
@wait_option
@timeout_option
@redis_option
@prefix_option
def evacuate_command(
    hosts: tuple[str, ...],
    reason: str,
    draining: bool,
    wait: bool,
    timeout_s: float | None,
    redis_url: str,
    prefix: str,
) -> None:
    """Empty HOSTs: each goes to maintenance and a durable evacuation is recorded; the
    leading daemon moves its VMs away first of all. Survives daemon restarts and leader
    changes; `balancer cancel ID` stops it.

    Examples: balancer evacuate kvm-03 --reason "DIMM replacement" ;
    balancer evacuate kvm-03 kvm-04 --wait --timeout 3600
    """
    _start(
        hosts, "draining" if draining else "maintenance", reason, wait, timeout_s, redis_url, prefix
    )


@click.command("drain")
@click.argument("hosts", metavar="HOST...", nargs=-1, required=True, type=NAME)
@click.option("--reason", default="", help="Why (shown by `balancer hosts` and `status`).")
@wait_option
@timeout_option
@redis_option
@prefix_option
def drain_command(
    hosts: tuple[str, ...],
    reason: str,
    wait: bool,
    timeout_s: float | None,
    redis_url: str,
    prefix: str,
) -> None:
    """Drain HOSTs: each goes to draining (it takes no new VM) and its VMs leave, as an
    evacuation; the host stays draining, empty, until `balancer undrain HOST`.

    Example: balancer drain kvm-07 --reason "retire" --wait
    """
    _start(hosts, "draining", reason, wait, timeout_s, redis_url, prefix)


@click.command("undrain")
@click.argument("hosts", metavar="HOST...", nargs=-1, required=True, type=NAME)
@redis_option
@prefix_option
def undrain_command(hosts: tuple[str, ...], redis_url: str, prefix: str) -> None:
    """Undo `balancer drain`: the host's evacuation is cancelled if it still runs (its
    queued moves revoked, running ones finish) and the host takes VMs again.

    Example: balancer undrain kvm-07
    """
    from balancer.state.operator import set_host_state  # noqa: PLC0415

    keys = Keys(prefix)
    with store_client(redis_url) as client:
        if len(set(hosts)) != len(hosts):
            raise InputError("a host is named twice", "HOST")
        for host in hosts:
            if not client.sismember(keys.hosts, host):
                raise InputError(f"unknown host {host!r}: no agent has reported it", "HOST")
            raw = client.hget(keys.host_state, host)
            state = None if raw is None else decode_override(raw, host).state  # type: ignore[arg-type]
            if state != "draining":
                raise InputError(
                    f"{host} is not draining ({state or 'no override'}); "
                    "`balancer host clear-state` ends maintenance",
                    "HOST",
                )
        for host in hosts:
            revoked = 0
            for e in read_intents(client, keys).intents.evacuations:
                if e.host == host and e.state == "running":
                    set_evacuation_state(client, keys, e.id, "cancelled", now=time.time())
                    revoked = revoke_queued_moves(client, keys, host)
            set_host_state(client, host, "active", keys=keys)
            click.echo(
                f"{host}: active again" + (f"; {revoked} queued move(s) revoked" if revoked else "")
            )


@click.command("evacuations")
@redis_option
@prefix_option
@json_flag
def evacuations_command(redis_url: str, prefix: str, as_json: bool) -> None:
    """Every evacuation: its host, state and the VMs the host still holds.

    Example: balancer evacuations --json | jq '.[] | select(.state == "running")'
    """
    now = time.time()
    with store_client(redis_url) as client:
        status = read_status(client, Keys(prefix), now=now)
    if as_json:
        click.echo(msgspec.json.encode(status.evacuations).decode())
        return
    if not status.evacuations:
        click.echo("no evacuations")
        return
    columns = [
        Column("ID"),
        Column("HOST"),
        Column("STATE"),
        Column("LEFT", "right"),
        Column("OF", "right"),
        Column("REASON"),
    ]
    rows = [
        [e.id, e.host, e.state, str(e.vms_left), str(e.vms_total), e.reason]
        for e in status.evacuations
    ]
    print_table(Console(soft_wrap=True), columns, rows)


@click.command("cancel")
@click.argument("evacuation", metavar="ID", type=NAME)
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
