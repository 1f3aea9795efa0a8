"""``balancer rules`` and ``balancer policy``: the operator's placement rules and planning
policy in the Redis store, read from JSON files in the snapshot's own format and checked
before anything is written (a bad value or an unknown name: exit 2, nothing changes)."""

from __future__ import annotations

import click
import msgspec

from balancer.cli.operator_cmds import allow_unknown_option, read_json, unknown_names
from balancer.cli.state_cmds import prefix_option, redis_option, store_client
from balancer.core.models import AffinityRule, AntiAffinityRule, PinRule, Policy, Rule
from balancer.errors import InputError
from balancer.state.keys import Keys
from balancer.state.operator import delete_rule, put_rules, set_policy
from balancer.state.overrides import decode_policy, decode_rule, encode_json

# --- rules ------------------------------------------------------------------------------


@click.group("rules")
def rules_group() -> None:
    """Placement rules (affinity, anti-affinity, pin), by id."""


def _rule_names(rules: dict[str, Rule]) -> tuple[set[str], set[str]]:
    vms: set[str] = set()
    hosts: set[str] = set()
    for rule in rules.values():
        if isinstance(rule, AffinityRule | AntiAffinityRule):
            vms.update(rule.vms)
        elif isinstance(rule, PinRule):
            vms.add(rule.vm)
            hosts.update(rule.hosts)
    return vms, hosts


@rules_group.command("put")
@click.argument("path", metavar="FILE")
@click.option("--replace", is_flag=True, help="Delete every rule that FILE does not name.")
@allow_unknown_option
@redis_option
@prefix_option
def rules_put_command(
    path: str, replace: bool, allow_unknown: bool, redis_url: str, prefix: str
) -> None:
    """Store the rules of FILE ('-': standard input), a JSON object of id → rule, e.g.
    {"db-apart": {"type": "anti-affinity", "vms": ["db1", "db2"]}}; all or nothing."""
    rules = read_json(path, msgspec.json.Decoder(dict[str, Rule]))
    vms, hosts = _rule_names(rules)
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        if not allow_unknown and (missing := unknown_names(client, keys, vms, hosts)):
            raise InputError(f"unknown {missing} (--allow-unknown to store them anyway)", path)
        put_rules(client, rules, replace=replace, keys=keys)
    click.echo(f"stored {len(rules)} rule(s){' (replacing all others)' if replace else ''}")


@rules_group.command("delete")
@click.argument("rule_ids", metavar="ID...", nargs=-1, required=True)
@redis_option
@prefix_option
def rules_delete_command(rule_ids: tuple[str, ...], redis_url: str, prefix: str) -> None:
    """Delete rules by id; an id that does not exist is an error (others still go)."""
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        missing = [r for r in rule_ids if not delete_rule(client, r, keys=keys)]
    if missing:
        raise InputError(f"no rule {', '.join(map(repr, missing))}", "ID")
    click.echo(f"deleted {len(rule_ids)} rule(s)")


@rules_group.command("show")
@redis_option
@prefix_option
def rules_show_command(redis_url: str, prefix: str) -> None:
    """Print the stored rules as a JSON object (what `rules put` reads)."""
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        stored: dict[bytes, bytes] = client.hgetall(keys.rules)  # type: ignore[assignment]
    rules = {k.decode(): decode_rule(v, f"redis:op:rules[{k.decode()}]") for k, v in stored.items()}
    click.echo(encode_json(dict(sorted(rules.items()))).decode())


# --- policy -----------------------------------------------------------------------------


@click.group("policy")
def policy_group() -> None:
    """The cluster's planning policy (objective, thresholds, evacuate_hosts, ...)."""


@policy_group.command("set")
@click.argument("path", metavar="FILE")
@allow_unknown_option
@redis_option
@prefix_option
def policy_set_command(path: str, allow_unknown: bool, redis_url: str, prefix: str) -> None:
    """Store the policy of FILE ('-': standard input), a JSON `Policy` as in a snapshot."""
    policy = read_json(path, msgspec.json.Decoder(Policy))
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        hosts = set(policy.evacuate_hosts)
        if hosts and not allow_unknown and (missing := unknown_names(client, keys, set(), hosts)):
            raise InputError(f"unknown {missing} (--allow-unknown to store it anyway)", path)
        set_policy(client, policy, keys=keys)
    click.echo(f"policy stored: {encode_json(policy).decode()}")


@policy_group.command("clear")
@redis_option
@prefix_option
def policy_clear_command(redis_url: str, prefix: str) -> None:
    """Remove the stored policy: snapshots carry the defaults."""
    with store_client(redis_url) as client:
        set_policy(client, None, keys=Keys(prefix))
    click.echo("policy cleared (defaults)")


@policy_group.command("show")
@redis_option
@prefix_option
def policy_show_command(redis_url: str, prefix: str) -> None:
    """Print the stored policy as JSON (the defaults when none is stored)."""
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        stored = client.get(keys.policy)
    policy = Policy() if stored is None else decode_policy(stored, "redis:op:policy")  # type: ignore[arg-type]
    click.echo(encode_json(policy).decode())
