"""``balancer snapshot``: check a snapshot document, print the format's JSON Schema."""

from __future__ import annotations

import sys

import click

from balancer.schema import snapshot_schema_text
from balancer.snapshot_file import load_snapshot


@click.group("snapshot")
def snapshot_group() -> None:
    """Snapshot documents (format v1, docs/snapshot-format.md)."""


@snapshot_group.command("validate")
@click.argument("path", metavar="FILE")
def validate_command(path: str) -> None:
    """Check FILE ('-' for standard input); exit 2 naming the first bad field."""
    snapshot = load_snapshot(path)
    click.echo(
        f"ok: generation {snapshot.generation}, {len(snapshot.hosts)} hosts, "
        f"{len(snapshot.vms)} VMs, {len(snapshot.rules)} rules"
    )


@snapshot_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the snapshot format."""
    sys.stdout.write(snapshot_schema_text())
