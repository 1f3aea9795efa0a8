"""The one table layout of the CLI: aligned columns two spaces apart under a bold header
(as ``kubectl get`` prints them), styled with rich, every cell escaped (``text.shown``).

Why not ``rich.table.Table``: it measures, pads and wraps every cell as a renderable,
about 3 ms a row on the build machine — a plan of 68,000 VMs took seven times longer to
print as a table than to compute (``python -m balancer.bench render``). Here a row is one
line of a ``rich.text.Text``; long cells are not wrapped (a terminal folds the line).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

from balancer.cli.text import shown

#: A cell: its text, or its text and a rich style (``"green"``, ``"bold red"``).
Cell = str | tuple[str, str]
GAP = "  "


@dataclass(frozen=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"


def _split(cell: Cell) -> tuple[str, str]:
    return (shown(cell), "") if isinstance(cell, str) else (shown(cell[0]), cell[1])


def table_lines(
    columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, title: str = ""
) -> list[list[tuple[str, str]]]:
    """The table's lines (a title, the header, a line per row), each a list of
    ``(text, style)`` pieces; unstyled text is merged into one piece."""
    body = [[_split(c) for c in row] for row in rows]
    widths = [len(c.header) for c in columns]
    for row in body:
        for i, (text, _) in enumerate(row):
            widths[i] = max(widths[i], len(text))
    last = len(columns) - 1
    right = [c.justify == "right" for c in columns]
    lines: list[list[tuple[str, str]]] = []
    if title:
        lines.append([(shown(title), "bold")])
    header = GAP.join(c.header.ljust(widths[i]) for i, c in enumerate(columns)).rstrip()
    lines.append([(header, "bold")])
    for row in body:
        pieces: list[tuple[str, str]] = []
        plain: list[str] = []
        for i, (text, style) in enumerate(row):
            pad = " " * (widths[i] - len(text)) if i != last or right[i] else ""
            if right[i]:
                plain.append(pad)
            if style:
                if plain:
                    pieces.append(("".join(plain), ""))
                    plain = []
                pieces.append((text, style))
            else:
                plain.append(text)
            if not right[i]:
                plain.append(pad)
            if i != last:
                plain.append(GAP)
        tail = "".join(plain).rstrip()
        if tail:
            pieces.append((tail, ""))
        lines.append(pieces)
    return lines


class Lines:
    """A rich renderable of ready-made lines: segments straight to the console, with no
    measuring and no wrapping (what makes ``rich.text.Text`` slow at 100,000 lines)."""

    def __init__(self, lines: list[list[tuple[str, str]]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        styles: dict[str, Style] = {}
        newline = Segment.line()
        for pieces in self.lines:
            for text, name in pieces:
                if name:
                    style = styles.get(name)
                    if style is None:
                        style = styles[name] = console.get_style(name)
                    yield Segment(text, style)
                else:
                    yield Segment(text)
            yield newline


def table(columns: Sequence[Column], rows: Iterable[Sequence[Cell]], *, title: str = "") -> Lines:
    """The table as a renderable (for ``rich.live.Live``, or ``Console.print``)."""
    return Lines(table_lines(columns, rows, title=title))


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    *,
    title: str = "",
) -> None:
    console.print(table(columns, rows, title=title), soft_wrap=True, end="")
