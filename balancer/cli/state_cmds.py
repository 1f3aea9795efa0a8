"""``balancer snapshot export``, ``balancer hosts``, ``balancer vms``: what the Redis store
holds, as a v1 snapshot document or as tables with each host's staleness."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import click
import msgspec
from rich.console import Console

from balancer.cli.options import (
    NAME,
    clock_option,
    json_option,
    make_clock,
    prefix_option,
    redis_option,
    store_client,
)
from balancer.cli.tables import Cell, Column, print_table
from balancer.errors import InputError
from balancer.snapshot_file import encode_snapshot
from balancer.state.keys import Keys
from balancer.state.listing import HostRow, VmRow, host_rows, vm_rows
from balancer.state.power_records import decode_power
from balancer.state.snapshot_read import (
    alive_hosts,
    decode_overrides,
    decode_reports,
    read_raw,
    snapshot_from_redis,
)

T = TypeVar("T")


def _write(data: bytes, out: str) -> None:
    """To standard output, or atomically to a file (a reader never sees half of it)."""
    if out == "-":
        sys.stdout.buffer.write(data + b"\n")
        sys.stdout.flush()
        return
    target = Path(out)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as f:
            f.write(data + b"\n")
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write {out}: {exc.strerror}", "--out") from None


@click.command("export")
@redis_option
@prefix_option
@click.option(
    "--out",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Where to write the document ('-': standard output).",
)
def export_command(redis_url: str, prefix: str, out: str) -> None:
    """Write the store's current snapshot as a v1 document (what `plan --snapshot` reads).

    Example: balancer snapshot export --out now.json && balancer plan --snapshot now.json
    """
    with store_client(redis_url) as client:
        snapshot = snapshot_from_redis(client, keys=Keys(prefix))
    _write(encode_snapshot(snapshot), out)
    if out != "-":
        click.echo(
            f"wrote {out}: generation {snapshot.generation}, {len(snapshot.hosts)} hosts, "
            f"{len(snapshot.vms)} VMs",
            err=True,
        )


def _table(rows: Sequence[T], columns: Sequence[tuple[str, Callable[[T], str]]]) -> None:
    cells: list[list[Cell]] = [[f(r) for _, f in columns] for r in rows]
    print_table(Console(), [Column(h) for h, _ in columns], cells)


def _age(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


_HOST_COLUMNS: list[tuple[str, Callable[[HostRow], str]]] = [
    ("HOST", lambda r: r.name),
    ("STATE", lambda r: r.state),
    ("REASON", lambda r: r.reason or "-"),
    ("AGE", lambda r: _age(r.age_s) + (" STALE" if r.stale else "")),
    ("CPU", lambda r: f"{r.cpu_used:.1f}/{r.cores}"),
    ("MEM GiB", lambda r: f"{r.memory_used_mib / 1024:.1f}/{r.memory_mib / 1024:.1f}"),
    ("VMS", lambda r: str(r.vms)),
    ("LOAD", lambda r: f"{r.load_1m:.2f}"),
    ("SKIPPED", lambda r: str(len(r.skipped))),
]
_VM_COLUMNS: list[tuple[str, Callable[[VmRow], str]]] = [
    ("VM", lambda r: r.name),
    ("HOST", lambda r: r.host),
    ("STATE", lambda r: r.state),
    ("VCPUS", lambda r: str(r.vcpus)),
    ("CPU", lambda r: f"{r.cpu_used:.2f}"),
    ("MEM MiB", lambda r: str(r.memory_mib)),
    ("RSS MiB", lambda r: str(r.rss_mib)),
    ("DIRTY MiB/s", lambda r: f"{r.dirty_rate_mib_s:.1f}"),
    ("AGE", lambda r: _age(r.age_s) + (" STALE" if r.stale else "")),
]


@click.command("hosts")
@redis_option
@prefix_option
@json_option
@clock_option
def hosts_command(redis_url: str, prefix: str, as_json: bool, clock: str) -> None:
    """List the hosts in the store: state, why, age of the last report (by --clock), load.

    Example: balancer hosts --json | jq '.[] | select(.stale)'
    """
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        raw = read_raw(client, keys)
        now = make_clock(clock, client, keys).now()
    rows = host_rows(
        decode_reports(raw),
        alive_hosts(raw),
        decode_overrides(raw),
        now,
        decode_power(raw.power),
    )
    if as_json:
        click.echo(msgspec.json.encode(rows).decode())
    else:
        _table(rows, _HOST_COLUMNS)


@click.command("vms")
@redis_option
@prefix_option
@json_option
@click.option("--host", "host_name", type=NAME, help="Only the VMs of this host.")
@clock_option
def vms_command(
    redis_url: str, prefix: str, as_json: bool, host_name: str | None, clock: str
) -> None:
    """List the VMs in the store: where, state, load, and whether their host is stale.

    Example: balancer vms --host kvm-03
    """
    keys = Keys(prefix)
    with store_client(redis_url) as client:
        raw = read_raw(client, keys)
        now = make_clock(clock, client, keys).now()
    rows = vm_rows(decode_reports(raw), alive_hosts(raw), now)
    if host_name is not None:
        if host_name not in raw.names:
            raise InputError(f"unknown host {host_name!r}: no agent has reported it", "--host")
        rows = [r for r in rows if r.host == host_name]
    if as_json:
        click.echo(msgspec.json.encode(rows).decode())
    else:
        _table(rows, _VM_COLUMNS)


__all__ = ["json_option", "prefix_option", "redis_option", "store_client"]
