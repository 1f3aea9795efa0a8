"""Operator facts in the Redis store (docs/state-schema.md, "Operators"): host state
overrides (``balancer host set-state|clear-state``), forgetting a host that is gone
(``balancer host forget``) and VM labels (``balancer vm``); rules and the policy are in
``rules_cmds``. Every value is checked before anything is written: a bad value or a name
the store does not know is refused with exit 2 and nothing changes."""

from __future__ import annotations

import json
from typing import TypeVar

import click
import msgspec
import redis

from balancer.cli.options import NAME, check_text, prefix_option, redis_option, store_client
from balancer.cli.text import shown
from balancer.core.vm_ladder import check_labels
from balancer.errors import InputError
from balancer.snapshot_file import decode_error, read_document
from balancer.state.keys import Keys
from balancer.state.operator import forget_host, set_host_state, update_vm_labels
from balancer.state.overrides import decode_labels, decode_override, encode_json
from balancer.state.report import decode_report_head
from balancer.state.snapshot_read import decode_heads, read_raw

T = TypeVar("T")
_STATES = ("maintenance", "draining", "off", "failed", "active")
allow_unknown_option = click.option(
    "--allow-unknown", is_flag=True, help="Accept VM or host names no agent has reported."
)


def known_host(client: redis.Redis, keys: Keys, host: str) -> None:
    if not client.sismember(keys.hosts, host):
        raise InputError(f"unknown host {host!r}: no agent has reported it", "HOST")


def unknown_names(client: redis.Redis, keys: Keys, vms: set[str], hosts: set[str]) -> str:
    """The names among ``vms`` and ``hosts`` that the store does not hold, as a sentence."""
    raw = read_raw(client, keys)
    known_vms = {vm.name for head in decode_heads(raw) for vm in head.vms} if vms else set()
    missing = [f"VM {shown(v)!r}" for v in sorted(vms - known_vms)]
    missing += [f"host {shown(h)!r}" for h in sorted(hosts - set(raw.names))]
    return ", ".join(missing)


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise InputError(f"the key {shown(key)!r} is given twice")
        seen[key] = value
    return seen


def read_json(path: str, decoder: msgspec.json.Decoder[T]) -> T:
    """A JSON file ('-': standard input), size-capped, with no key given twice in an
    object, decoded and type-checked; exit 2 naming the fault."""
    data = read_document(path)
    try:
        json.loads(data, object_pairs_hook=_no_duplicate_keys)
    except InputError as exc:
        raise InputError(exc.message, path) from None
    except (ValueError, RecursionError):
        pass  # msgspec says what is wrong, with the position
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise decode_error(exc, data, path) from None


# --- host -------------------------------------------------------------------------------


@click.group("host")
def host_group() -> None:
    """A host's state as the operator sets it (wins over what its agent reports), and
    forgetting a host that is gone."""


@host_group.command("set-state")
@click.argument("host", type=NAME)
@click.argument("state", type=click.Choice(_STATES))
@click.option("--reason", default="", help="Why (shown by `balancer hosts` and in snapshots).")
@redis_option
@prefix_option
def set_state_command(host: str, state: str, reason: str, redis_url: str, prefix: str) -> None:
    """Put HOST in maintenance or draining (its VMs leave), off or failed; `active` hands
    the state back to the agent. A host whose heartbeat expired stays `failed` (stale).

    Example: balancer host set-state kvm-02 maintenance --reason "BIOS update"
    """
    keys = Keys(prefix)
    check_text(reason, "--reason")
    with store_client(redis_url) as client:
        known_host(client, keys, host)
        stored = client.hget(keys.host_state, host)
        if stored is not None and state != "active":
            old = decode_override(stored, f"redis:op:host-state[{host}]")  # type: ignore[arg-type]
            if old.state == state:
                why = f" ({old.reason})" if old.reason else ""
                raise InputError(f"{host} is already in {state}{why}", "HOST")
        set_host_state(client, host, state, reason=reason, keys=keys)
    why = f" ({reason})" if reason and state != "active" else ""
    click.echo(f"{host}: {state}{why}")


@host_group.command("clear-state")
@click.argument("host", type=NAME)
@redis_option
@prefix_option
def clear_state_command(host: str, redis_url: str, prefix: str) -> None:
    """Remove HOST's override: its state is again what its agent reports.

    Example: balancer host clear-state kvm-02
    """
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        stored = client.hget(keys.host_state, host)
        if stored is None:
            known_host(client, keys, host)
            click.echo(f"{host}: no override")
            return
        old = decode_override(stored, f"redis:op:host-state[{host}]")  # type: ignore[arg-type]
        set_host_state(client, host, "active", keys=keys)
    click.echo(f"{host}: override {old.state} removed")


@host_group.command("forget")
@click.argument("host", type=NAME)
@click.option("--force", is_flag=True, help="Forget it even though its last report lists VMs.")
@redis_option
@prefix_option
def forget_command(host: str, force: bool, redis_url: str, prefix: str) -> None:
    """Remove a host that is gone (decommissioned, renamed) and everything the store
    holds about it: its report, history, override and power record. Refused while its
    agent still reports (stop the agent first), and while its last report lists VMs
    unless --force (they vanish from the store with it).

    Example: balancer host forget kvm-old-07
    """
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        known_host(client, keys, host)
        if client.exists(keys.alive(host)):
            raise InputError(f"{host} is alive (its agent reports): stop its agent first", "HOST")
        blob = client.get(keys.report(host))
        vms: list[str] = []
        if blob is not None:
            try:
                vms = [v.name for v in decode_report_head(blob).vms]  # type: ignore[arg-type]
            except msgspec.DecodeError:
                vms = []
        if vms and not force:
            listed = ", ".join(shown(v) for v in vms[:5]) + (" ..." if len(vms) > 5 else "")
            raise InputError(
                f"{host}'s last report lists {len(vms)} VM(s) ({listed}); they "
                "vanish from the store with it: --force to forget it anyway",
                "HOST",
            )
        forget_host(client, host, keys=keys)
    click.echo(f"{host}: forgotten" + (f" with {len(vms)} VM(s) of its last report" if vms else ""))


# --- vm ---------------------------------------------------------------------------------


@click.group("vm")
def vm_group() -> None:
    """A VM's operator labels (merged over its agent's; the operator's win)."""


def _pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"expected KEY=VALUE, got {shown(pair)!r}", "LABELS")
        check_text(pair, "LABELS")
        labels[key] = value
    return labels


def _known_vm(client: redis.Redis, keys: Keys, vm: str, allow_unknown: bool, verb: str) -> None:
    if not allow_unknown and (missing := unknown_names(client, keys, {vm}, set())):
        raise InputError(f"unknown {missing} (--allow-unknown to {verb} it anyway)", "VM")


@vm_group.command("label")
@click.argument("vm", type=NAME)
@click.argument("pairs", metavar="KEY=VALUE...", nargs=-1, required=True)
@allow_unknown_option
@redis_option
@prefix_option
def label_command(
    vm: str, pairs: tuple[str, ...], allow_unknown: bool, redis_url: str, prefix: str
) -> None:
    """Set labels on VM (e.g. `critical=true`, `tier=db`); other labels are kept.

    How the VM migrates: `critical=true` (never post-copy or auto-converge),
    `max_downtime_ms=500`, `allow_postcopy=true|false`, `allow_suspend=true|false`
    override the policy for this VM. Example: balancer vm label web-1 critical=true
    """
    labels, keys = _pairs(pairs), Keys(prefix)
    check_labels(labels)
    with store_client(redis_url) as client:
        _known_vm(client, keys, vm, allow_unknown, "label")
        stored = update_vm_labels(client, vm, add=labels, keys=keys)
    click.echo(f"{vm}: {encode_json(stored).decode()}")


@vm_group.command("unlabel")
@click.argument("vm", type=NAME)
@click.argument("names", metavar="KEY...", nargs=-1)
@click.option("--all", "remove_all", is_flag=True, help="Remove every operator label.")
@allow_unknown_option
@redis_option
@prefix_option
def unlabel_command(
    vm: str,
    names: tuple[str, ...],
    remove_all: bool,
    allow_unknown: bool,
    redis_url: str,
    prefix: str,
) -> None:
    """Remove operator labels from VM (the agent's own labels show again). A label the
    VM does not carry is refused (nothing removed).

    Example: balancer vm unlabel web-1 tier
    """
    if not names and not remove_all:
        raise InputError("name the labels to remove, or --all", "KEY")
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        _known_vm(client, keys, vm, allow_unknown, "unlabel")
        if remove_all:
            client.hdel(keys.vm_labels, vm)
            stored: dict[str, str] = {}
        else:
            raw = client.hget(keys.vm_labels, vm)
            have = {} if raw is None else decode_labels(raw, f"redis:op:vm-labels[{vm}]")  # type: ignore[arg-type]
            absent = [n for n in names if n not in have]
            if absent:
                raise InputError(
                    f"{vm} has no operator label {', '.join(map(repr, absent))}", "KEY"
                )
            stored = update_vm_labels(client, vm, remove=frozenset(names), keys=keys)
    click.echo(f"{vm}: {encode_json(stored).decode()}")
