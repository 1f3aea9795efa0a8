"""A real Celery worker process for integration tests: started with an environment,
waited for until it logs "ready", stopped with SIGTERM (SIGKILL if it lingers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

READY_TIMEOUT_S = 90.0
REPO = Path(__file__).resolve().parents[2]


class CeleryWorker:
    def __init__(self, directory: Path, env: dict[str, str], concurrency: int = 4) -> None:
        self.dir = directory
        self.env = env
        self.concurrency = concurrency
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.dir / f"worker-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
                "--pool", "threads", "--concurrency", str(self.concurrency),
                "-Q", "migrations", "--loglevel", "INFO", "--without-gossip",
                "--without-mingle", "--without-heartbeat", "-n", f"test{self.starts}@%h",
                "--logfile", str(self.log)]  # fmt: skip
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, **self.env, "PYTHONPATH": path}
        with open(self.dir / "stderr.log", "ab") as err:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}; see {self.dir}")
            if self.log.exists() and " ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"worker not ready after {READY_TIMEOUT_S:.0f}s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-task, acknowledging nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        self._reap()

    def _reap(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None
