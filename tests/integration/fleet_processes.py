"""The simulated fleet and its workers as real processes, started the way an operator
starts them (``balancer fleet sim ...``, ``balancer worker --hypervisor sim ...``), with
log files; stopped by their own PIDs at the end of a test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from balancer.fleet.clock import FleetClock
from balancer.state.keys import Keys
from balancer.state.report import HostReport, decode_report

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90.0


def wait_until(
    what: str,
    check: Callable[[], bool],
    timeout_s: float = 60.0,
    explain: Callable[[], str] | None = None,
) -> None:
    """Poll ``check``; fail after ``timeout_s``, saying ``explain()`` if given."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            why = f": {explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}{why}")
        time.sleep(0.05)


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


class Process:
    """One child process with its output in a log file."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            argv, cwd=REPO, env=_env(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: it dies mid-whatever, acknowledging nothing."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM, then the exit status (SIGKILL if it lingers)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=30)
        self._log.close()
        return code


def balancer_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "balancer.cli.main", *args]


class Fleet(Process):
    """``balancer fleet sim`` with ``--stats``: ready once its first round is out."""

    def __init__(self, log: Path, redis_url: str, *args: str) -> None:
        super().__init__(balancer_argv("fleet", "sim", "--redis", redis_url, "--stats", *args), log)
        self.client = redis.Redis.from_url(redis_url)
        self.keys = Keys()
        wait_until("the fleet's first round", lambda: self.rounds() >= 1 or not self.alive(),
                   READY_TIMEOUT_S)  # fmt: skip
        assert self.alive(), self.log()
        self.clock = FleetClock.from_redis(self.client, self.keys)

    def rounds(self) -> int:
        return sum(1 for line in self.log().splitlines() if line.startswith('{"round"'))

    def stats(self) -> list[dict[str, object]]:
        return [json.loads(x) for x in self.log().splitlines() if x.startswith('{"round"')]

    def report(self, host: str) -> HostReport | None:
        raw = self.client.get(self.keys.report(host))
        return None if raw is None else decode_report(raw)  # type: ignore[arg-type]

    def seq(self, host: str) -> int:
        """The sequence number of the host's latest report (0: none yet)."""
        report = self.report(host)
        return 0 if report is None else report.seq

    def stop(self) -> int:
        code = super().stop()
        self.client.close()
        return code


class FleetWorker(Process):
    """``balancer worker --hypervisor sim``: ready once Celery logs "ready"."""

    def __init__(
        self, directory: Path, redis_url: str, name: str, *, concurrency: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.celery_log = directory / f"{name}-celery.log"
        argv = balancer_argv(
            "worker", "--redis", redis_url, "--hypervisor", "sim",
            "--concurrency", str(concurrency), "--name", f"{name}@%h", "--",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--logfile", str(self.celery_log),
        )  # fmt: skip
        super().__init__(argv, directory / f"{name}.log", env)
        wait_until(
            f"worker {name} ready",
            lambda: (
                not self.alive()
                or (self.celery_log.exists() and " ready." in self.celery_log.read_text())
            ),
            READY_TIMEOUT_S,
        )
        assert self.alive(), self.log()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Every process a test started, stopped at its end."""
    started: list[Process] = []
    yield started
    for p in reversed(started):
        p.stop()


class DaemonProcess(Process):
    """``balancer daemon --clock fleet`` with short leader timings (real seconds); its
    /metrics on ``metrics_port`` (0: none)."""

    def __init__(
        self, directory: Path, redis_url: str, name: str, *, interval_s: float = 60.0,
        lease_s: float = 3.0, renew_deadline_s: float = 2.0, retry_s: float = 0.5,
        settings: dict[str, object] | None = None, metrics_port: int = 0,
    ) -> None:  # fmt: skip
        self.name = name
        argv = balancer_argv(
            "-v", "daemon", "--redis", redis_url, "--clock", "fleet", "--id", name,
            "--interval", str(interval_s), "--lease-s", str(lease_s),
            "--renew-deadline-s", str(renew_deadline_s), "--retry-s", str(retry_s),
            "--settings", json.dumps(settings or {}), "--metrics-port", str(metrics_port),
            "--metrics-address", "127.0.0.1",
        )  # fmt: skip
        super().__init__(argv, directory / f"daemon-{name}.log")

    def pause(self) -> None:
        """SIGSTOP: the process stops where it is (a stall, a frozen VM)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        return super().stop()
