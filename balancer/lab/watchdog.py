"""Stops an ephemeral lab when the process that owns it dies, however it dies.

    python -m balancer.lab.watchdog LAB_DIR     # stdin: a pipe from the owner

The owner (a test session) keeps the write end of the pipe; the watchdog blocks reading
it. End of file means the owner closed it (after its own ``down``) or died (a SIGKILL, a
pytest-timeout in thread mode, an OOM kill): either way the watchdog then runs ``down``,
which does nothing if the lab is gone already. It runs in its own session, so a Ctrl-C in
the owner's terminal does not stop it before it has cleaned up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from balancer.lab.lab import Lab
from balancer.lab.state import load


def start(root: Path) -> subprocess.Popen[bytes]:
    """Start the watchdog of the lab at ``root``; close its stdin when the lab is down."""
    log = root.parent / f".{root.name}.watchdog.log"
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "balancer.lab.watchdog", str(root)],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Tell the watchdog its owner is done (the lab is down) and wait for it to exit."""
    if proc.stdin is not None:
        proc.stdin.close()
    proc.wait(timeout)


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    sys.stdin.buffer.read()
    if load(root) is not None:
        print(f"watchdog: owner gone, stopping the lab at {root}", flush=True)
        Lab(root).down()  # if this raises, the log keeps the traceback
    (root.parent / f".{root.name}.watchdog.log").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
