"""``balancer rules`` and ``balancer policy``: the operator's placement rules and planning
policy in the Redis store, read from JSON files in the snapshot's own format and checked
before anything is written, by the rules the snapshot reader applies (a bad value, a
number out of bounds, a key given twice, rules that contradict each other or those
stored, an unknown name: exit 2, nothing changes)."""

from __future__ import annotations

import click
import msgspec

from balancer.cli.operator_cmds import allow_unknown_option, read_json, unknown_names
from balancer.cli.options import NAME, prefix_option, redis_option, store_client
from balancer.core.models import Policy, Rule
from balancer.core.validate import check_policy, names_in
from balancer.errors import InputError
from balancer.state.keys import Keys
from balancer.state.operator import delete_rule, put_rules, set_policy
from balancer.state.overrides import decode_policy, decode_rule, encode_json
from balancer.state.snapshot_read import snapshot_from_redis

# --- rules ------------------------------------------------------------------------------


@click.group("rules")
def rules_group() -> None:
    """Placement rules (affinity, anti-affinity, pin; each hard, or soft with
    "hard": false), by id."""


@rules_group.command("put")
@click.argument("path", metavar="FILE")
@click.option("--replace", is_flag=True, help="Delete every rule that FILE does not name.")
@allow_unknown_option
@redis_option
@prefix_option
def rules_put_command(
    path: str, replace: bool, allow_unknown: bool, redis_url: str, prefix: str
) -> None:
    """Store the rules of FILE ('-': standard input), a JSON object of id → rule; all or
    nothing. Refused: an id given twice, a rule of fewer than two VMs, a pin of no host,
    rules that contradict each other or the stored ones (hard affinity and hard
    anti-affinity on one pair, pins that leave a group no common host).

    Example: echo '{"db-apart": {"type": "anti-affinity", "vms": ["db1", "db2"]}}' |
    balancer rules put - ; a soft pin ("prefer these hosts"):
    '{"ci-near-cache": {"type": "pin", "vm": "ci-1", "hosts": ["kvm-05"], "hard": false}}'
    """
    rules = read_json(path, msgspec.json.Decoder(dict[str, Rule]))
    vms, hosts = names_in(rules.values())
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        if not allow_unknown and (missing := unknown_names(client, keys, vms, hosts)):
            raise InputError(f"unknown {missing} (--allow-unknown to store them anyway)", path)
        put_rules(client, rules, replace=replace, keys=keys)
    click.echo(f"stored {len(rules)} rule(s){' (replacing all others)' if replace else ''}")


@rules_group.command("delete")
@click.argument("rule_ids", metavar="ID...", nargs=-1, required=True, type=NAME)
@redis_option
@prefix_option
def rules_delete_command(rule_ids: tuple[str, ...], redis_url: str, prefix: str) -> None:
    """Delete rules by id; an id that does not exist is an error (others still go).

    Example: balancer rules delete db-apart
    """
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
    """Print the stored rules as a JSON object (what `rules put` reads).

    Example: balancer rules show > rules.json
    """
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
    """Store the policy of FILE ('-': standard input), a JSON `Policy` as in a snapshot,
    held to the bounds and checks the snapshot reader applies (an `evacuate` objective
    needs hosts to evacuate now: evacuate_hosts, or hosts in maintenance or draining).

    Example: echo '{"headroom": 0.2, "cooldown_s": 1800}' | balancer policy set -
    """
    policy = read_json(path, msgspec.json.Decoder(Policy))
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        hosts = set(policy.evacuate_hosts)
        if hosts and not allow_unknown and (missing := unknown_names(client, keys, set(), hosts)):
            raise InputError(f"unknown {missing} (--allow-unknown to store it anyway)", path)
        snapshot = snapshot_from_redis(client, keys=keys)
        known = {h.name for h in snapshot.hosts}
        as_read = msgspec.structs.replace(  # what the reader makes of it: unknown hosts dropped
            policy, evacuate_hosts=tuple(h for h in policy.evacuate_hosts if h in known)
        )
        try:
            check_policy(snapshot, as_read, "policy")
        except InputError as exc:
            raise InputError(exc.message, f"{path}: {exc.path}") from None
        set_policy(client, policy, keys=keys)
    click.echo(f"policy stored: {encode_json(policy).decode()}")


@policy_group.command("clear")
@redis_option
@prefix_option
def policy_clear_command(redis_url: str, prefix: str) -> None:
    """Remove the stored policy: snapshots carry the defaults.

    Example: balancer policy clear
    """
    with store_client(redis_url) as client:
        set_policy(client, None, keys=Keys(prefix))
    click.echo("policy cleared (defaults)")


@policy_group.command("show")
@redis_option
@prefix_option
def policy_show_command(redis_url: str, prefix: str) -> None:
    """Print the stored policy as JSON (the defaults when none is stored).

    Example: balancer policy show | jq .headroom
    """
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        stored = client.get(keys.policy)
    policy = Policy() if stored is None else decode_policy(stored, "redis:op:policy")  # type: ignore[arg-type]
    click.echo(encode_json(policy).decode())
