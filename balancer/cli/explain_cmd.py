"""``balancer explain VM``: why VM stays or goes — the leading daemon's decision now, from
the store (as ``balancer plan --explain VM``): its move or the reason it cannot move,
and every host's verdict from every filter."""

from __future__ import annotations

import click

from balancer.cli.options import NAME, json_option, prefix_option, redis_option, store_client
from balancer.cli.plan_cmd import as_the_daemon, what_if
from balancer.snapshot_file import load_snapshot
from balancer.state.keys import Keys


@click.command("explain")
@click.argument("vm", type=NAME)
@click.option(
    "--snapshot",
    "snapshot_path",
    metavar="FILE",
    help="Explain the plan of a snapshot document instead of the live store.",
)
@json_option
@redis_option
@prefix_option
def explain_command(
    vm: str, snapshot_path: str | None, as_json: bool, redis_url: str, prefix: str
) -> None:
    """Why VM stays or goes: its move (reason, destination, mode, wave) or why it cannot
    move, and for every other host the filters that refuse it. Exit 2 for an unknown VM.

    Examples: balancer explain web-1 ; balancer explain web-1 --json | jq '.hosts[] | select(.ok)'
    """
    if snapshot_path is not None:
        what_if(load_snapshot(snapshot_path), {}, None, as_json, vm, "")
        return
    with store_client(redis_url) as client:
        as_the_daemon(client, Keys(prefix), None, as_json, vm)
