"""``balancer migrations``: the migrations under way and the ones that ended, newest last
(``balancer.state.migrations.list_migrations``), as a table or as one JSON list.

Each JSON item has exactly: ``id``, ``vm``, ``source``, ``dest``, ``mode``, ``reason``,
``epoch`` (null for an operator's move), ``started_at``, ``finished_at`` (null while
running), ``result`` (``running``, ``completed``, ``failed``, ``fenced``, ``cancelled``),
``finished_by`` (the ladder step that let it finish, "" for a plain migration),
``predicted`` and ``actual`` (durations in seconds, null when unknown). Times are Unix
seconds of the recorder's clock.

``--watch`` shows them again every ``--every`` seconds until Ctrl-C; with ``--json`` it
prints each record as one JSON line when it first shows and whenever its result changes
(a stream a script can follow).

Exit status: 0; 1 the store is unreachable; 2 bad input (the message names the option).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import click
import redis
from rich.console import Console, RenderableType
from rich.text import Text

from balancer.cli.options import Finite
from balancer.cli.tables import Cell, Column, table
from balancer.cli.watch import EVERY, watch
from balancer.state.connect import DEFAULT_URL, redis_error, redis_from_url
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


@click.command("migrations")
@click.option("--redis", "redis_url", envvar="BALANCER_REDIS_URL", default=DEFAULT_URL,
              show_default=True, help="The store [env BALANCER_REDIS_URL].")  # fmt: skip
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix in Redis.")
@click.option("--json", "as_json", is_flag=True, help="One JSON list instead of a table.")
@click.option("--since", type=Finite(0, 1e10, low_open=True), metavar="SECONDS",
              help="Only those that ended in the last SECONDS (and the running).")  # fmt: skip
@click.option("--limit", type=click.IntRange(1, 1_000_000), metavar="N",
              help="Only the newest N migrations.")  # fmt: skip
@click.option("--watch", "watching", is_flag=True, help="Refresh until Ctrl-C.")
@click.option("--every", type=EVERY, default=2.0, show_default=True, metavar="SECONDS",
              help="Seconds between refreshes with --watch.")  # fmt: skip
def migrations_command(redis_url: str, prefix: str, as_json: bool, since: float | None,
                       limit: int | None, watching: bool, every: float) -> None:  # fmt: skip
    """The migrations under way and the ones that ended, newest last.

    --since counts back from the store's clock (Redis TIME). Exit status: 0; 1 the
    store is unreachable; 2 bad input.

    Examples: balancer migrations --since 3600 ; balancer migrations --watch ;
    balancer migrations --watch --json | jq -c 'select(.result == "failed")'
    """
    client = redis_from_url(redis_url)
    keys = Keys(prefix)
    try:
        if watching and as_json:
            _stream(client, redis_url, keys, since, limit, every)
        elif watching:
            watch(lambda: _view(_read(client, redis_url, keys, since, limit)), every)
        else:
            records = _read(client, redis_url, keys, since, limit)
            if as_json:
                click.echo(json.dumps([view(r) for r in records]))
            else:
                Console(soft_wrap=True).print(_view(records))
    finally:
        client.close()


def _stream(client: redis.Redis, url: str, keys: Keys, since: float | None, limit: int | None,
            every: float) -> None:  # fmt: skip
    """One JSON line per record when it first shows and when its result changes."""
    seen: dict[str, str] = {}
    try:
        while True:
            for r in _read(client, url, keys, since, limit):
                if seen.get(r.id) != r.result:
                    seen[r.id] = r.result
                    click.echo(json.dumps(view(r)))
            time.sleep(every)
    except KeyboardInterrupt:
        return


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
        raise redis_error(exc, url) from None


def _when(t: float | None) -> str:
    if t is None:
        return ""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(s: float | None) -> str:
    return "" if s is None else f"{s:.1f}"


_COLUMNS = [Column("ID"), Column("VM"), Column("FROM → TO"), Column("MODE"), Column("REASON"),
            Column("EPOCH", "right"), Column("STARTED (UTC)"), Column("FINISHED"),
            Column("RESULT"), Column("FINISHED BY"), Column("PREDICTED S", "right"),
            Column("ACTUAL S", "right")]  # fmt: skip


def _view(records: list[MigrationRecord]) -> RenderableType:
    if not records:
        return Text("no migrations recorded")
    rows: list[list[Cell]] = []
    for r in records:
        v = view(r)
        rows.append([r.id[:8], r.vm, f"{r.source} → {r.dest}", r.mode, r.reason,
                     "" if r.epoch is None else str(r.epoch), _when(r.started_at),
                     _when(r.finished_at), (r.result, COLOURS.get(r.result, "")), r.finished_by,
                     _seconds(v["predicted"]), _seconds(v["actual"])])  # fmt: skip
    return table(_COLUMNS, rows, title="Migrations")
