"""Agents as real processes (``python -m balancer.cli.main agent ...``) for integration
tests: started with a log file, stopped by their own PID at the end."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from balancer.bench.fake_node import domain_xml, node_xml
from tests.integration.fleet_processes import Process


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """Poll ``condition`` every 50 ms; fail after ``timeout`` seconds (generous for CI)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def balancer(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balancer.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def write_node(directory: Path, host: str, vms: Sequence[str]) -> str:
    """A test:/// host file with ``vms``; returns its URI."""
    path = directory / f"{host}.xml"
    path.write_text(node_xml([domain_xml(v) for v in vms]))
    return f"test://{path}"


class AgentProcess(Process):
    """``balancer -v agent ARGS``; ``env``, when given, is its whole environment (a test
    controls exactly what the agent sees). Logs, kill and stop as any ``Process``."""

    def __init__(self, log: Path, args: Sequence[str], env: dict[str, str] | None) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "balancer.cli.main", "-v", "agent", *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )


AgentFactory = Callable[..., AgentProcess]


@pytest.fixture
def agent_processes(tmp_path: Path) -> Iterator[AgentFactory]:
    started: list[AgentProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> AgentProcess:
        agent = AgentProcess(tmp_path / f"agent-{len(started)}.log", args, env)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
