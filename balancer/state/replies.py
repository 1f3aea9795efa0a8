"""Redis replies in the shapes that reach us: RESP2 (flat lists, also what a raw
connection reads) or RESP3 / redis-py (maps, pairs)."""

from __future__ import annotations

from typing import Any


def hash_reply(value: Any) -> dict[Any, Any]:
    """HGETALL's answer: a map (RESP3, redis-py) or a flat list of pairs (RESP2, raw)."""
    if isinstance(value, dict):
        return value
    return dict(zip(value[::2], value[1::2], strict=True))


def scores_reply(value: Any) -> dict[bytes, bytes]:
    """ZRANGE ... WITHSCORES: RESP2's flat list or RESP3's pairs; scores as text."""
    if value and isinstance(value[0], list | tuple):
        return {m: s if isinstance(s, bytes) else repr(s).encode() for m, s in value}
    return hash_reply(value)
