"""Snapshots from JSON documents (files, stdin, bytes): decode, type-check, validate.

The error a user sees names the field path (``hosts[2].cpu.vendor``) and, for malformed
JSON, the line and column. A document is read up to ``MAX_DOCUMENT_BYTES`` (env
``BALANCER_MAX_DOCUMENT_MB``); a larger one, or an endless one (``/dev/zero``), is
refused after reading that much.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import BinaryIO

import msgspec

from balancer.core.models import Snapshot
from balancer.core.validate import check, check_names
from balancer.errors import SnapshotError

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD = re.compile(r"^Object (missing required|contains unknown) field `(?P<field>[^`]+)`$")
_BYTE = re.compile(r"\(byte (?P<pos>\d+)\)")
_decoder = msgspec.json.Decoder(Snapshot)
#: A 10,000-host, 400,000-VM snapshot is about 300 MB of JSON.
DEFAULT_MAX_MB = 512
_CHUNK = 16 * 2**20


def max_document_bytes() -> int:
    """The cap on a document's size (``BALANCER_MAX_DOCUMENT_MB``, default 512 MB)."""
    text = os.environ.get("BALANCER_MAX_DOCUMENT_MB", "")
    try:
        mb = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        raise SnapshotError(f"not a number: {text!r}", "BALANCER_MAX_DOCUMENT_MB") from None
    if not 0 < mb <= 2**40:
        raise SnapshotError(f"must be a positive size, not {text}", "BALANCER_MAX_DOCUMENT_MB")
    return int(mb * 1024 * 1024)


def read_capped(stream: BinaryIO, name: str, limit: int | None = None) -> bytes:
    """At most ``limit`` bytes of ``stream`` (default ``max_document_bytes()``); more is
    refused (``SnapshotError``) without reading on."""
    cap = max_document_bytes() if limit is None else limit
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = stream.read(min(_CHUNK, cap + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    if size > cap:
        raise SnapshotError(
            f"{name} is larger than {cap / 2**20:.0f} MB (BALANCER_MAX_DOCUMENT_MB raises the cap)"
        )
    return data


def read_document(path: str | Path, limit: int | None = None) -> bytes:
    """A file's bytes, or standard input's when ``path`` is ``-``, capped."""
    if str(path) == "-":
        return read_capped(sys.stdin.buffer, "standard input", limit)
    try:
        with Path(path).open("rb") as f:
            return read_capped(f, str(path), limit)
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror}") from None


def _where(data: bytes, pos: int) -> str:
    line = data.count(b"\n", 0, pos) + 1
    col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


def decode_error(exc: msgspec.DecodeError, data: bytes, document: str = "") -> SnapshotError:
    """msgspec's error as ours: the field path it names (``hosts[2].cpu.vendor``), or the
    line and column of malformed JSON; ``document`` (a file name) goes first."""
    if isinstance(exc, msgspec.ValidationError):
        m = _AT.match(str(exc))
        msg, path = (m.group("msg"), (m.group("path") or "").lstrip(".")) if m else (str(exc), "")
        f = _FIELD.match(msg)
        if f:
            kind = "missing required field" if "missing" in f.group(1) else "unknown field"
            path = f"{path}.{f.group('field')}" if path else f.group("field")
            msg = kind
        return SnapshotError(msg, f"{document}: {path or '$'}" if document else path or "$")
    text = str(exc)
    b = _BYTE.search(text)
    where = f" at {_where(data, int(b.group('pos')))}" if b else ""
    return SnapshotError(f"not valid JSON: {_BYTE.sub('', text).strip()}{where}", document)


def decode_snapshot(data: bytes) -> Snapshot:
    """Decode and validate one v1 snapshot document."""
    try:
        snapshot = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise decode_error(exc, data) from None
    check_names(snapshot)
    check(snapshot)
    return snapshot


def load_snapshot(path: str | Path) -> Snapshot:
    """Read a snapshot from a file, or from standard input when ``path`` is ``-``."""
    return decode_snapshot(read_document(path))


def encode_snapshot(snapshot: Snapshot) -> bytes:
    return msgspec.json.format(msgspec.json.encode(snapshot), indent=2)
