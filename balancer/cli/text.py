"""Text read from the store or a document, made safe to print on a terminal.

A name may hold control characters (an agent's libvirt domain, a value written with
``redis-cli``): printed raw, ESC starts an escape sequence and a newline breaks a table.
``shown`` escapes them as Python does (``\\x1b``, ``\\n``); ``cell`` does that and makes
the text a rich ``Text`` (never parsed as markup, so ``[red]`` in a name stays text).
"""

from __future__ import annotations

import re

from rich.text import Text

from balancer.core.validate import CONTROL


def _escape(match: object) -> str:
    char: str = match.group()  # type: ignore[attr-defined]
    return repr(char)[1:-1]


#: What a terminal or a reader of lines takes for a control or a line break: C0 and C1
#: controls, DEL, and the Unicode line and paragraph separators.
_UNSAFE = re.compile(CONTROL.pattern[:-1] + "\u2028\u2029]")


def shown(text: str) -> str:
    """``text`` with every control character escaped (``\\x1b``, ``\\n``, ``\\x00``)
    and the Unicode line separators too (``\\u2028``): one line stays one line."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def cell(text: str, style: str = "") -> Text:
    """``shown(text)`` as a rich ``Text``: printed as is, never read as markup."""
    return Text(shown(text), style=style)
