"""A private redis-server on a free loopback port, in a directory of ours, without
persistence: the store of a demo or a benchmark run."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from balancer.errors import PermanentError
from balancer.launch.processes import ManagedProcess, Processes

START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_path() -> str:
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(path).exists():
        raise PermanentError(
            "redis-server is not installed (Debian: apt-get install redis-server; "
            "`make demo` installs it when run as root)"
        )
    return path


def _ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(procs: Processes, *, maxclients: int = 10000) -> tuple[ManagedProcess, str]:
    """The server (stopped with the others) and its URL."""
    directory = procs.dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    for _attempt in range(3):
        port = free_port()
        argv = [
            redis_server_path(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(directory),
            "--save", "",
            "--appendonly", "no",
            "--maxclients", str(maxclients),
            "--daemonize", "no",
        ]  # fmt: skip
        server = procs.start(f"redis-{port}", argv)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and server.alive():
            if _ready(port):
                return server, f"redis://127.0.0.1:{port}/0"
            time.sleep(0.05)
        server.stop()
    raise PermanentError(f"redis-server did not start; see {directory}")
