"""Processes named by PID *and* start time, so a recycled PID is never signalled.

Everything the lab stops, it stops through these: libvirtd by its recorded PID, QEMU by
the PID files libvirt writes and by membership in the daemon's mount namespace (every
process in a namespace the lab created is the lab's). A zombie counts as gone: it holds
no memory, no sockets, no mounts; its parent (or PID 1) reaps it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessId:
    pid: int
    #: Clock ticks after boot at which the process started (field 22 of /proc/PID/stat).
    start_ticks: int

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        """The process ``pid`` as it is now, or ``None`` if it does not exist."""
        fields = _stat_fields(pid)
        return None if fields is None else cls(pid, int(fields[19]))

    def is_running(self) -> bool:
        fields = _stat_fields(self.pid)
        if fields is None or int(fields[19]) != self.start_ticks:
            return False
        return fields[0] not in ("Z", "X")

    def name(self) -> str:
        """The command name (``/proc/PID/comm``: libvirtd, qemu-system-x86), "" if gone."""
        try:
            return Path(f"/proc/{self.pid}/comm").read_text().strip()
        except OSError:
            return ""

    def signal(self, signum: int) -> None:
        if self.is_running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 is the state)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def mount_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def processes_in_namespace(namespace: str) -> list[ProcessId]:
    """Every live process whose mount namespace is ``namespace`` (``mnt:[inode]``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and mount_namespace(int(entry)) == namespace:
            proc = ProcessId.of(int(entry))
            if proc is not None and proc.is_running():
                found.append(proc)
    return found


def reap(procs: Iterable[ProcessId]) -> None:
    """Collect the exit status of those that are our own children (no-op otherwise)."""
    for proc in procs:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, os.WNOHANG)


def wait_gone(procs: Iterable[ProcessId], timeout: float) -> list[ProcessId]:
    """Wait until none of ``procs`` runs; return those still running at ``timeout``."""
    pending = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        reap(pending)
        pending = [p for p in pending if p.is_running()]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.05)


def terminate(procs: Iterable[ProcessId], grace: float) -> list[ProcessId]:
    """SIGTERM, wait ``grace`` seconds, SIGKILL; return any that survived even that."""
    pending = [p for p in procs if p.is_running()]
    for proc in pending:
        proc.signal(signal.SIGTERM)
    pending = wait_gone(pending, grace)
    for proc in pending:
        proc.signal(signal.SIGKILL)
    return wait_gone(pending, 10.0)
