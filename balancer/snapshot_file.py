"""Snapshots from JSON documents (files, stdin, bytes): decode, type-check, validate.

The error a user sees names the field path (``hosts[2].cpu.vendor``) and, for malformed
JSON, the line and column.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import msgspec

from balancer.core.models import Snapshot
from balancer.core.validate import check
from balancer.errors import SnapshotError

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD = re.compile(r"^Object (missing required|contains unknown) field `(?P<field>[^`]+)`$")
_BYTE = re.compile(r"\(byte (?P<pos>\d+)\)")
_decoder = msgspec.json.Decoder(Snapshot)


def _where(data: bytes, pos: int) -> str:
    line = data.count(b"\n", 0, pos) + 1
    col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


def decode_snapshot(data: bytes) -> Snapshot:
    """Decode and validate one v1 snapshot document."""
    try:
        snapshot = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        m = _AT.match(str(exc))
        msg, path = (m.group("msg"), (m.group("path") or "").lstrip(".")) if m else (str(exc), "")
        f = _FIELD.match(msg)
        if f:
            kind = "missing required field" if "missing" in f.group(1) else "unknown field"
            path = f"{path}.{f.group('field')}" if path else f.group("field")
            msg = kind
        raise SnapshotError(msg, path or "$") from None
    except msgspec.DecodeError as exc:
        text = str(exc)
        b = _BYTE.search(text)
        where = f" at {_where(data, int(b.group('pos')))}" if b else ""
        raise SnapshotError(f"not valid JSON: {_BYTE.sub('', text).strip()}{where}") from None
    check(snapshot)
    return snapshot


def load_snapshot(path: str | Path) -> Snapshot:
    """Read a snapshot from a file, or from standard input when ``path`` is ``-``."""
    if str(path) == "-":
        return decode_snapshot(sys.stdin.buffer.read())
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror}") from None
    return decode_snapshot(data)


def encode_snapshot(snapshot: Snapshot) -> bytes:
    return msgspec.json.format(msgspec.json.encode(snapshot), indent=2)
