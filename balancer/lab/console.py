"""Reading a guest's serial console log: its ``kbl-tick N pages=P`` lines, and a
disk-checking guest's ``kbl-disk …`` lines (``deploy/lab/guest-disk.c``).

The counter proves the guest ran: it only grows while the guest's CPU executes, it would
restart from 1 after a reboot, and a guest that crashes is destroyed (``on_crash``).
Only complete lines count, so a line half-written by the guest is never misread.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from balancer.lab.errors import LabTimeoutError

_TICK = re.compile(rb"kbl-tick (\d+) pages=(\d+)\r?\n")
_DISK = re.compile(rb"kbl-disk (pass=(\d+) (ok|bad)|boot ok|new|error)([^\r\n]*)\r?\n")


@dataclass(frozen=True)
class Tick:
    counter: int
    #: Pages the guest had written so far (its own count, for comparing with the host's).
    pages: int


@dataclass(frozen=True)
class DiskLine:
    """One ``kbl-disk`` line: a check (``pass`` > 0, ``ok``), or at boot ``boot ok`` (the
    disk held the pattern) / ``new`` (it was written), or ``error``."""

    kind: str  # "pass" | "boot ok" | "new" | "error"
    number: int = 0
    ok: bool = True
    text: str = ""


def disk_lines(console: Path) -> list[DiskLine]:
    try:
        data = console.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for m in _DISK.finditer(data):
        text = (m[0].decode(errors="replace")).strip()
        if m[2] is not None:
            out.append(DiskLine("pass", int(m[2]), m[3] == b"ok", text))
        else:
            out.append(DiskLine(m[1].decode(), 0, m[1] != b"error", text))
    return out


def wait_for_disk_pass(console: Path, above: int, timeout: float) -> DiskLine:
    """Wait until the guest reports a disk check numbered above ``above``; return it."""
    deadline = time.monotonic() + timeout
    while True:
        passes = [d for d in disk_lines(console) if d.kind == "pass" and d.number > above]
        if passes:
            return passes[0]
        if time.monotonic() >= deadline:
            raise LabTimeoutError(
                f"no disk check above {above} on {console} after {timeout:.0f}s; "
                f"last lines:\n{tail(console)}"
            )
        time.sleep(0.1)


def ticks(console: Path) -> list[Tick]:
    try:
        data = console.read_bytes()
    except FileNotFoundError:
        return []
    return [Tick(int(m[1]), int(m[2])) for m in _TICK.finditer(data)]


def last_tick(console: Path) -> Tick | None:
    found = ticks(console)
    return found[-1] if found else None


def tail(console: Path, lines: int = 15) -> str:
    try:
        text = console.read_text(errors="replace")
    except FileNotFoundError:
        return "(no console log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_for_counter(console: Path, above: int, timeout: float) -> Tick:
    """Wait until the guest prints a counter greater than ``above``; return that tick."""
    deadline = time.monotonic() + timeout
    while True:
        tick = last_tick(console)
        if tick is not None and tick.counter > above:
            return tick
        if time.monotonic() >= deadline:
            raise LabTimeoutError(
                f"no counter above {above} on {console} after {timeout:.0f}s; "
                f"last lines:\n{tail(console)}"
            )
        time.sleep(0.1)
