"""Running one MULTI/EXEC and reading its reply as it streams in.

A snapshot's transaction answers with one reply of some 140 MiB (every host's report).
redis-py would read all of it before returning, then the reports would be decoded: Redis
sending and Python decoding one after the other. Here the reply is parsed from the socket
as it arrives and each report is handed to ``on_item`` (the decoder) the moment its bytes
are complete, so decoding runs while Redis is still sending (two processes, two cores).
The transaction is the same — one generation — only its reply is read sooner.

Only for a real socket connection (TCP, TLS or Unix); ``supports_streaming`` says which.
Any failure part-way leaves the connection in an unknown state: it is closed.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.connection import AbstractConnection

_CHUNK = 1 << 20
Command = tuple[str | bytes, ...]


class _Reader:
    """RESP2/RESP3 values from a socket, a buffer at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = bytearray()
        self._pos = 0

    def _fill(self) -> None:
        if self._pos > _CHUNK:
            del self._buf[: self._pos]
            self._pos = 0
        data = self._sock.recv(_CHUNK)
        if not data:
            raise redis.ConnectionError("Redis closed the connection during a snapshot read")
        self._buf += data

    def _line(self) -> bytes:
        while (end := self._buf.find(b"\r\n", self._pos)) < 0:
            self._fill()
        line = bytes(self._buf[self._pos : end])
        self._pos = end + 2
        return line

    def _exact(self, size: int) -> bytes:
        while len(self._buf) - self._pos < size + 2:
            self._fill()
        data = bytes(self._buf[self._pos : self._pos + size])
        self._pos += size + 2
        return data

    def header(self) -> tuple[bytes, bytes]:
        line = self._line()
        return line[:1], line[1:]

    def value(self) -> Any:
        kind, rest = self.header()
        return self.finish(kind, rest)

    def each(self, on_item: Callable[[bytes | None], object]) -> Any:
        """An array's elements through ``on_item``, each as soon as it is complete."""
        kind, rest = self.header()
        if kind != b"*" or int(rest) < 0:
            return self.finish(kind, rest)
        return [on_item(self.value()) for _ in range(int(rest))]

    def finish(self, kind: bytes, rest: bytes) -> Any:
        """The value whose header line was ``kind + rest``."""
        if kind in (b"+", b"("):
            return rest
        if kind == b"-":
            return redis.ResponseError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b",":
            return float(rest)
        if kind == b"#":
            return rest == b"t"
        if kind == b"_":
            return None
        if kind in (b"$", b"="):
            size = int(rest)
            return None if size < 0 else self._exact(size)
        if kind in (b"*", b"~", b">"):
            count = int(rest)
            return None if count < 0 else [self.value() for _ in range(count)]
        if kind == b"%":
            return {self.value(): self.value() for _ in range(int(rest))}
        raise redis.InvalidResponse(f"unexpected RESP type {kind!r}")


def _pack(commands: Sequence[Command]) -> bytes:
    """RESP arrays of bulk strings (redis-py's packer is slow for 20,000 keys)."""
    out = bytearray()
    for command in commands:
        out += b"*%d\r\n" % len(command)
        for arg in command:
            data = arg.encode() if isinstance(arg, str) else arg
            out += b"$%d\r\n%b\r\n" % (len(data), data)
    return bytes(out)


def supports_streaming(conn: object) -> bool:
    return isinstance(conn, AbstractConnection) and isinstance(conn._sock, socket.socket)


def exec_streaming(
    conn: AbstractConnection,
    commands: Sequence[Command],
    streamed: int,
    on_item: Callable[[bytes | None], object],
) -> list[Any]:
    """Send MULTI, ``commands``, EXEC on ``conn``; return the commands' results. The result
    of ``commands[streamed]`` (an array, e.g. MGET) is the list of ``on_item`` of each of
    its elements, called as each arrives. Raises ``redis.WatchError`` when a watched key
    changed, ``redis.ResponseError`` when Redis refused a command."""
    packed = _pack([("MULTI",), *commands, ("EXEC",)])
    conn.send_packed_command([packed])  # type: ignore[no-untyped-call]
    try:
        reader = _Reader(conn._sock)  # type: ignore[arg-type]
        queued = [reader.value() for _ in range(len(commands) + 1)]
        kind, rest = reader.header()
        if kind == b"_" or (kind == b"*" and int(rest) < 0):
            raise redis.WatchError("a watched key changed")
        if kind != b"*":  # EXECABORT: a command was refused when queued (ACL, syntax)
            refused = [a for a in [*queued, reader.finish(kind, rest)] if isinstance(a, Exception)]
            raise refused[0] if refused else redis.InvalidResponse(f"EXEC answered {kind!r}")
        results = [
            reader.each(on_item) if i == streamed else reader.value() for i in range(int(rest))
        ]
        for result in results:  # read to the end first: the connection stays usable
            if isinstance(result, redis.ResponseError):
                raise result
        return results
    except (redis.WatchError, redis.ResponseError):
        raise
    except TimeoutError as exc:
        conn.disconnect()  # type: ignore[no-untyped-call]
        raise redis.TimeoutError(f"timeout reading a snapshot: {exc}") from None
    except OSError as exc:
        conn.disconnect()  # type: ignore[no-untyped-call]
        raise redis.ConnectionError(f"connection lost reading a snapshot: {exc}") from None
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]
        raise
