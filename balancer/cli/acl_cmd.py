"""``balancer acl agent HOST…`` and ``balancer acl roles [ROLE…]``: print the Redis users
of kvm-balancer as ``ACL SETUSER`` lines (one per user, a new random password each) that
``redis-cli`` runs as they are (docs/security.md)."""

from __future__ import annotations

import click

from balancer.acl.users import ROLES, agent, new_password, roles
from balancer.cli.state_cmds import prefix_option


@click.group("acl")
def acl_group() -> None:
    """Redis ACL users: one per host agent, one per role (docs/security.md). Pipe the
    output to `redis-cli` as an admin, then `ACL SAVE` (or CONFIG REWRITE) to keep them;
    each line holds its user's new password: give it to that user's URL only."""


@acl_group.command("agent")
@prefix_option
@click.argument("hosts", nargs=-1, required=True, metavar="HOST...")
def agent_command(prefix: str, hosts: tuple[str, ...]) -> None:
    """One user per HOST, `agent-HOST`: writes only HOST's report, heartbeat and history
    (and registers it); reads back only the schema mark and its VMs' measures."""
    users = [agent(h, prefix) for h in hosts]  # every name checked before any line
    for user in users:
        click.echo(user.setuser(new_password()))


@acl_group.command("roles")
@prefix_option
@click.option(
    "--fleet",
    is_flag=True,
    help="The worker may also move the simulated fleet's VMs (balancer fleet sim).",
)
@click.argument("names", nargs=-1, type=click.Choice(ROLES), metavar="[ROLE...]")
def roles_command(prefix: str, fleet: bool, names: tuple[str, ...]) -> None:
    """The role users (default: all): reader (snapshots, listings, the exporter),
    operator (host, vm, rules, policy, pause, resume, evacuate, cancel), dispatcher
    (migrate, execute), worker (Celery workers), daemon (the control loop and its sends)."""
    for user in roles(prefix, fleet=fleet):
        if not names or user.name in names:
            click.echo(user.setuser(new_password()))
