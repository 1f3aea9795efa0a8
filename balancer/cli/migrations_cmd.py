"""``balancer migrations``: the migrations under way and the ones that ended, newest last
(``balancer.state.migrations.list_migrations``), as a table or as one JSON list.

Each JSON item has exactly: ``id``, ``vm``, ``source``, ``dest``, ``mode``, ``reason``,
``epoch`` (null for an operator's move), ``started_at``, ``finished_at`` (null while
running), ``result`` (``running``, ``completed``, ``failed``, ``fenced``, ``cancelled``),
``finished_by`` (the ladder step that let it finish, "" for a plain migration),
``predicted`` and ``actual`` (durations in seconds, null when unknown). Times are Unix
seconds of the recorder's clock.

Exit status: 0; 1 the store is unreachable; 2 bad input (the message names the option).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click
import redis
from rich.console import Console
from rich.table import Table

from balancer.errors import RetryableError
from balancer.state.connect import DEFAULT_URL, redact_url, redis_from_url
from balancer.state.keys import DEFAULT_PREFIX, Keys
from balancer.state.migrations import MigrationRecord, list_migrations

COLOURS = {"completed": "green", "failed": "red", "fenced": "magenta", "cancelled": "yellow",
           "running": "cyan"}  # fmt: skip


def view(r: MigrationRecord) -> dict[str, Any]:
    """The record as ``balancer migrations --json`` shows it."""
    return {
        "id": r.id,
        "vm": r.vm,
        "source": r.source,
        "dest": r.dest,
        "mode": r.mode,
        "reason": r.reason,
        "epoch": r.epoch,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "result": r.result,
        "finished_by": r.finished_by,
        "predicted": r.predicted.duration_s if r.predicted is not None else None,
        "actual": r.actual.duration_s if r.actual is not None else None,
    }


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise click.BadParameter("must be more than 0", ctx, param)
    return value


@click.command("migrations")
@click.option("--redis", "redis_url", envvar="BALANCER_REDIS_URL", default=DEFAULT_URL,
              show_default=True, help="The store [env BALANCER_REDIS_URL].")  # fmt: skip
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix in Redis.")
@click.option("--json", "as_json", is_flag=True, help="One JSON list instead of a table.")
@click.option("--since", type=float, metavar="SECONDS", callback=_positive,
              help="Only those that ended in the last SECONDS (and the running).")  # fmt: skip
@click.option("--limit", type=int, metavar="N", callback=_positive,
              help="Only the newest N migrations.")  # fmt: skip
def migrations_command(redis_url: str, prefix: str, as_json: bool, since: float | None,
                       limit: int | None) -> None:  # fmt: skip
    """The migrations under way and the ones that ended, newest last.

    --since counts back from the store's clock (Redis TIME). Exit status: 0; 1 the
    store is unreachable; 2 bad input.
    """
    client = redis_from_url(redis_url)
    try:
        records = _read(client, redis_url, Keys(prefix), since, limit)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps([view(r) for r in records]))
    else:
        _table(records, Console())


def _read(
    client: redis.Redis, url: str, keys: Keys, since: float | None, limit: int | None
) -> list[MigrationRecord]:
    try:
        start = None
        if since is not None:
            seconds, micros = client.time()
            start = seconds + micros / 1e6 - since
        return list_migrations(client, keys, since=start, limit=limit)
    except redis.RedisError as exc:
        raise RetryableError(f"Redis {redact_url(url)}: {exc}") from None


def _when(t: float | None) -> str:
    if t is None:
        return ""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(s: float | None) -> str:
    return "" if s is None else f"{s:.1f}"


def _table(records: list[MigrationRecord], console: Console) -> None:
    if not records:
        console.print("no migrations recorded")
        return
    t = Table("id", "vm", "from → to", "mode", "reason", "epoch", "started (UTC)", "finished",
              "result", "finished by", "predicted s", "actual s", title="Migrations")  # fmt: skip
    for r in records:
        v = view(r)
        colour = COLOURS.get(r.result, "white")
        t.add_row(r.id[:8], r.vm, f"{r.source} → {r.dest}", r.mode, r.reason,
                  "" if r.epoch is None else str(r.epoch), _when(r.started_at),
                  _when(r.finished_at), f"[{colour}]{r.result}[/]", r.finished_by,
                  _seconds(v["predicted"]), _seconds(v["actual"]))  # fmt: skip
    console.print(t)
