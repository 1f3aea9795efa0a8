"""Text read from the store or a document, made safe to print on a terminal.

A name may hold control characters (an agent's libvirt domain, a value written with
``redis-cli``): printed raw, ESC starts an escape sequence and a newline breaks a table.
``shown`` escapes them as Python does (``\\x1b``, ``\\n``); ``cell`` does that and makes
the text a rich ``Text`` (never parsed as markup, so ``[red]`` in a name stays text).
"""

from __future__ import annotations

from rich.text import Text

from balancer.core.validate import CONTROL


def _escape(match: object) -> str:
    char: str = match.group()  # type: ignore[attr-defined]
    return repr(char)[1:-1]


def shown(text: str) -> str:
    """``text`` with every control character escaped (``\\x1b``, ``\\n``, ``\\x00``)."""
    return CONTROL.sub(_escape, text) if CONTROL.search(text) else text


def cell(text: str, style: str = "") -> Text:
    """``shown(text)`` as a rich ``Text``: printed as is, never read as markup."""
    return Text(shown(text), style=style)
