"""Operator facts in the Redis store (docs/state-schema.md, "Operators"): host state
overrides (``balancer host``) and VM labels (``balancer vm``); rules and the policy are in
``rules_cmds``. Every value is checked before anything is written: a bad
value or a name the store does not know is refused with exit 2 and nothing changes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

import click
import msgspec
import redis

from balancer.cli.state_cmds import prefix_option, redis_option, store_client
from balancer.core.vm_ladder import check_labels
from balancer.errors import InputError
from balancer.state.keys import Keys
from balancer.state.operator import set_host_state, update_vm_labels
from balancer.state.overrides import decode_override, encode_json
from balancer.state.snapshot_read import decode_heads, read_raw

T = TypeVar("T")
_STATES = ("maintenance", "draining", "off", "failed", "active")
allow_unknown_option = click.option(
    "--allow-unknown", is_flag=True, help="Accept VM or host names no agent has reported."
)


def _known_host(client: redis.Redis, keys: Keys, host: str) -> None:
    if not client.sismember(keys.hosts, host):
        raise InputError(f"unknown host {host!r}: no agent has reported it", "HOST")


def unknown_names(client: redis.Redis, keys: Keys, vms: set[str], hosts: set[str]) -> str:
    """The names among ``vms`` and ``hosts`` that the store does not hold, as a sentence."""
    raw = read_raw(client, keys)
    known_vms = {vm.name for head in decode_heads(raw) for vm in head.vms}
    missing = [f"VM {v!r}" for v in sorted(vms - known_vms)]
    missing += [f"host {h!r}" for h in sorted(hosts - set(raw.names))]
    return ", ".join(missing)


def read_json(path: str, decoder: msgspec.json.Decoder[T]) -> T:
    """A JSON file ('-': standard input) decoded and type-checked; exit 2 naming the fault."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", "FILE") from None
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(f"{path}: {exc}", "FILE") from None


# --- host -------------------------------------------------------------------------------


@click.group("host")
def host_group() -> None:
    """A host's state as the operator sets it (wins over what its agent reports)."""


@host_group.command("set-state")
@click.argument("host")
@click.argument("state", type=click.Choice(_STATES))
@click.option("--reason", default="", help="Why (shown by `balancer hosts` and in snapshots).")
@redis_option
@prefix_option
def set_state_command(host: str, state: str, reason: str, redis_url: str, prefix: str) -> None:
    """Put HOST in maintenance or draining (its VMs leave), off or failed; `active` hands
    the state back to the agent. A host whose heartbeat expired stays `failed` (stale)."""
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        _known_host(client, keys, host)
        set_host_state(client, host, state, reason=reason, keys=keys)
    why = f" ({reason})" if reason and state != "active" else ""
    click.echo(f"{host}: {state}{why}")


@host_group.command("clear-state")
@click.argument("host")
@redis_option
@prefix_option
def clear_state_command(host: str, redis_url: str, prefix: str) -> None:
    """Remove HOST's override: its state is again what its agent reports."""
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        stored = client.hget(keys.host_state, host)
        if stored is None:
            _known_host(client, keys, host)
            click.echo(f"{host}: no override")
            return
        old = decode_override(stored, f"redis:op:host-state[{host}]")  # type: ignore[arg-type]
        set_host_state(client, host, "active", keys=keys)
    click.echo(f"{host}: override {old.state} removed")


# --- vm ---------------------------------------------------------------------------------


@click.group("vm")
def vm_group() -> None:
    """A VM's operator labels (merged over its agent's; the operator's win)."""


def _pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"expected KEY=VALUE, got {pair!r}", "LABELS")
        labels[key] = value
    return labels


@vm_group.command("label")
@click.argument("vm")
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
        if not allow_unknown and (missing := unknown_names(client, keys, {vm}, set())):
            raise InputError(f"unknown {missing} (--allow-unknown to label it anyway)", "VM")
        stored = update_vm_labels(client, vm, add=labels, keys=keys)
    click.echo(f"{vm}: {encode_json(stored).decode()}")


@vm_group.command("unlabel")
@click.argument("vm")
@click.argument("names", metavar="KEY...", nargs=-1)
@click.option("--all", "remove_all", is_flag=True, help="Remove every operator label.")
@redis_option
@prefix_option
def unlabel_command(
    vm: str, names: tuple[str, ...], remove_all: bool, redis_url: str, prefix: str
) -> None:
    """Remove operator labels from VM (the agent's own labels show again)."""
    if not names and not remove_all:
        raise InputError("name the labels to remove, or --all", "KEY")
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        if remove_all:
            client.hdel(keys.vm_labels, vm)
            stored: dict[str, str] = {}
        else:
            stored = update_vm_labels(client, vm, remove=frozenset(names), keys=keys)
    click.echo(f"{vm}: {encode_json(stored).decode()}")
