"""Steps both demos take: wait for a process to be ready (or say which one died), run a
``balancer`` command as an operator would, play with the live view."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live

from balancer.demo.view import Frame, render
from balancer.errors import PermanentError
from balancer.launch.processes import ManagedProcess, Processes, balancer_argv

READY_TIMEOUT_S = 60.0


def wait_ready(
    procs: Processes, what: str, ready: Callable[[], bool], timeout: float = READY_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        dead = [p for p in procs.started if not p.alive()]
        if dead or time.monotonic() > deadline:
            raise PermanentError(failure(what, dead))
        time.sleep(0.1)


def failure(what: str, dead: list[ManagedProcess]) -> str:
    if not dead:
        return f"timed out waiting for {what}"
    tails = "; ".join(f"{p.name}: {p.log_text().strip().splitlines()[-1:]}" for p in dead)
    return f"while waiting for {what}, a process exited: {tails}"


def run_cli(url: str, *args: str) -> str:
    """``balancer ARGS --redis URL``; its output, or ``PermanentError`` with its error."""
    done = subprocess.run(
        [*balancer_argv(*args), "--redis", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise PermanentError(f"balancer {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def play_live(
    console: Console | None, play: Callable[[Callable[[Frame], None]], None], refresh: float
) -> None:
    """``play(show)`` with each frame shown live on ``console`` (``None``: not shown)."""
    if console is None:
        play(lambda _frame: None)
        return
    with Live(console=console, refresh_per_second=refresh, transient=False) as view:
        play(lambda frame: view.update(render(frame)))
