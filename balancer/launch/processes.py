"""One child process with a log file: start, signal, stop (SIGTERM, then SIGKILL if it
lingers), always reaped. ``Processes`` stops every process it started, last first."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0


class ManagedProcess:
    def __init__(
        self, name: str, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.name, self.argv, self.log_path = name, list(argv), log_path
        self.env = dict(os.environ if env is None else env)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
            )
        log.info("started %s (pid %d)", self.name, self.proc.pid)
        return self

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signum)

    def pause(self) -> None:
        """SIGSTOP: the process stops where it is (a stalled daemon)."""
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: it dies without a word."""
        self.signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> int | None:
        """SIGTERM (after SIGCONT, in case it was stopped), then SIGKILL if it lingers."""
        if self.proc is None:
            return None
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        return self._reap()

    def _reap(self) -> int | None:
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s: SIGKILL", self.name, STOP_TIMEOUT_S)
            self.proc.kill()
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        return code

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def balancer_argv(*args: str) -> list[str]:
    """``balancer ARGS`` run with this interpreter (no reliance on PATH)."""
    return [sys.executable, "-m", "balancer.cli.main", *args]


class Processes:
    """Every process started through it, stopped in reverse order by ``stop_all``."""

    def __init__(self, directory: Path, env: Mapping[str, str] | None = None) -> None:
        self.dir = directory
        self.env = dict(os.environ if env is None else env)
        self.started: list[ManagedProcess] = []

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        p = ManagedProcess(name, argv, self.dir / f"{name}.log", {**self.env, **(env or {})})
        self.started.append(p.start())
        return p

    def stop_all(self, keep: tuple[str, ...] = ()) -> None:
        """Stop every process, the last started first (but those whose name starts with
        one of ``keep``)."""
        for p in reversed(self.started):
            if keep and p.name.startswith(keep):
                continue
            try:
                p.stop()
            except Exception:
                log.exception("could not stop %s", p.name)

    def leftover(self) -> list[str]:
        """Names of processes still running (none after ``stop_all``)."""
        return [p.name for p in self.started if p.alive()]


@contextmanager
def managed(directory: Path) -> Iterator[Processes]:
    procs = Processes(directory)
    try:
        yield procs
    finally:
        procs.stop_all()
