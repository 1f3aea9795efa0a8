"""Making a lab guest burn CPU on command, so a host's load can rise and fall.

A guest made with ``GuestSpec(commands=True)`` has a second serial port, a pty; its
``/init`` (``deploy/lab/guest-init.c``) reads one command a line from it. ``cpu N``:
busy for N ms of every 100 ms (N % of its vCPU, as the host's CPU time of its QEMU shows
under TCG). The guest answers ``kbl-cpu N`` on its console once it obeys. The command is
sent through the libvirtd that runs the guest now (``virDomainOpenConsole`` on that
port), so it reaches the guest wherever it has migrated; the level is the guest's own
state, so it moves with the guest.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import libvirt

from balancer.errors import InputError
from balancer.lab.console import tail
from balancer.lab.errors import LabError, LabTimeoutError

#: The alias libvirt gives the guest's second serial port.
COMMAND_PORT = "serial1"
#: Seconds the port stays open after a command (QEMU polls its pty's state every 1 s).
HOLD_S = 1.5
_OBEYED = re.compile(rb"kbl-cpu (\d+)\r?\n")


def send_command(dom: Any, line: str) -> None:
    """Write ``line`` to the guest's command port (on the host that runs ``dom``)."""
    send_commands([(dom, line)])


def send_commands(commands: Sequence[tuple[Any, str]]) -> None:
    """Write each line to its guest's command port, all ports open at once."""
    opened = []
    try:
        for dom, line in commands:
            stream = dom.connect().newStream(0)
            dom.openConsole(COMMAND_PORT, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
            opened.append(stream)
            data = (line.strip() + "\n").encode()
            while data:
                sent = stream.send(data)
                if sent < 0:
                    raise LabError(f"the command port of {dom.name()} refused {line!r}")
                data = data[sent:]
        # QEMU looks for a reader on its pty once a second and drops what is written
        # before it has seen one: keep the ports open until it has.
        time.sleep(HOLD_S)
    except libvirt.libvirtError as exc:
        raise LabError(f"cannot send commands to the guests: {exc}") from exc
    finally:
        for stream in opened:
            with contextlib.suppress(libvirt.libvirtError):
                stream.finish()


def cpu_levels(console: Path) -> list[int]:
    """Every ``cpu`` level the guest has reported obeying, oldest first."""
    try:
        data = console.read_bytes()
    except FileNotFoundError:
        return []
    return [int(m[1]) for m in _OBEYED.finditer(data)]


def set_cpu(dom: Any, console: Path, percent: int, timeout: float = 0.0) -> None:
    """Make the guest burn ``percent`` % of its vCPU; with ``timeout``, wait until it says
    it does (a line ``kbl-cpu N`` more than before, of that level)."""
    if not 0 <= percent <= 100:
        raise InputError("must be between 0 and 100", "cpu percent")
    before = len(cpu_levels(console))
    send_command(dom, f"cpu {percent}")
    deadline = time.monotonic() + timeout
    while timeout > 0:
        levels = cpu_levels(console)
        if len(levels) > before and levels[-1] == percent:
            return
        if time.monotonic() >= deadline:
            raise LabTimeoutError(
                f"{dom.name()} did not confirm cpu {percent} after {timeout:.0f}s; "
                f"last lines:\n{tail(console)}"
            )
        time.sleep(0.1)
