"""Following one migration from the command line: the progress the executor publishes in
Redis (``kvmb:exec:progress:<vm>``) as a rich progress bar on standard error, and a
one-line summary of its outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
import redis
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from balancer.cli.text import shown
from balancer.state.keys import Keys
from workers.executor.records import Progress as MigrationProgress

MIB = 1024 * 1024


def describe(p: MigrationProgress) -> str:
    parts = [f"{p.remaining_bytes / MIB:.0f} MiB left", f"iteration {p.iteration}",
             f"dirty {p.dirty_rate_bytes_s / MIB:.1f} MiB/s",
             f"downtime ~{p.expected_downtime_ms} ms"]  # fmt: skip
    if p.postcopy:
        parts.append("post-copy")
    if p.ladder:
        parts.append("ladder: " + ", ".join(p.ladder))
    return ", ".join(parts)


def follow(
    client: redis.Redis,
    prefix: str,
    vm: str,
    finished: Callable[[], bool],
    waiting: Callable[[], str],
    *,
    poll_s: float = 0.5,
) -> None:
    """Show ``vm``'s progress until ``finished()``; ``waiting()`` says why it has none yet.
    On a terminal a live bar; otherwise (a log) a line whenever the migration advances."""
    console = Console(stderr=True)
    if not console.is_terminal:
        _follow_lines(client, prefix, vm, finished, waiting, console, poll_s)
        return
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[detail]}", markup=False))  # fmt: skip
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"{vm}: {waiting()}", total=100.0, detail="")
        while not finished():
            p = _progress(client, prefix, vm)
            if p is None:
                bar.update(task, description=f"{vm}: {waiting()}")
            else:
                bar.update(task, completed=p.percent, detail=describe(p),
                           description=f"{vm} {shown(p.source)}→{shown(p.dest)}")  # fmt: skip
            time.sleep(poll_s)


def _follow_lines(client: redis.Redis, prefix: str, vm: str, finished: Callable[[], bool],
                  waiting: Callable[[], str], console: Console, poll_s: float) -> None:  # fmt: skip
    last: tuple[object, ...] = ()
    said = ""
    while not finished():
        p = _progress(client, prefix, vm)
        if p is None:
            if (why := waiting()) != said:
                said = why
                console.print(f"{vm}: {why}", soft_wrap=True, highlight=False, markup=False)
        elif (step := (int(p.percent // 10), p.iteration, p.ladder)) != last:
            last = step
            line = f"{vm} {shown(p.source)}→{shown(p.dest)} {p.percent:.0f}%: {describe(p)}"
            console.print(line, soft_wrap=True, highlight=False, markup=False)
        time.sleep(poll_s)


def _progress(client: redis.Redis, prefix: str, vm: str) -> MigrationProgress | None:
    raw = client.get(Keys(prefix).progress(vm))
    return None if raw is None else msgspec.json.decode(raw, type=MigrationProgress)


def summary(outcome: dict[str, Any]) -> str:
    """One line for a migration's record (``MigrationRecord`` as JSON builtins)."""
    actual = outcome.get("actual") or {}
    line = (f"{shown(outcome['vm'])} {shown(outcome['source'])}→{shown(outcome['dest'])}: "
            f"{outcome['result']} "
            f"({outcome['mode']}) in {actual.get('duration_s', 0.0):.1f} s")  # fmt: skip
    if actual.get("downtime_ms") is not None:
        line += f", downtime {actual['downtime_ms']:.0f} ms"
    if outcome.get("finished_by"):
        line += f", finished by {outcome['finished_by']}"
    return line
