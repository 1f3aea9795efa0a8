"""``--watch``: show a view again and again until Ctrl-C (then exit 0).

On a terminal the view is redrawn in place (rich ``Live``); otherwise (a pipe, a log) each
refresh is printed after a line with the time, so a log keeps every one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from rich.console import Console, RenderableType
from rich.live import Live

from balancer.cli.options import Finite

#: ``--every``: seconds between refreshes.
EVERY = Finite(0.1, 3600.0)


def watch(view: Callable[[], RenderableType], every: float, console: Console | None = None) -> None:
    """Show ``view()`` every ``every`` seconds until interrupted."""
    out = console or Console()
    try:
        if out.is_terminal:
            with Live(view(), console=out, auto_refresh=False, screen=False) as live:
                while True:
                    time.sleep(every)
                    live.update(view(), refresh=True)
        else:
            while True:
                stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
                out.print(f"--- {stamp}", highlight=False, markup=False)
                out.print(view())
                out.file.flush()
                time.sleep(every)
    except KeyboardInterrupt:
        return
