"""``balancer fleet sim`` and ``balancer worker`` refuse bad options with exit status 2
and a message naming the option; a fleet already in the store is resumed, not doubled."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.fleet_processes import Fleet, Process, balancer_argv, processes

__all__ = ["processes"]
pytestmark = pytest.mark.redis


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(balancer_argv(*args), capture_output=True, text=True, timeout=120,
                          env=env, check=False)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--hosts", "0", "--vms", "3"], "--hosts"),
        (["--hosts", "2", "--vms", "x"], "--vms"),
        (["--hosts", "2", "--vms", "3", "--speed", "0"], "--speed"),
        (["--hosts", "2", "--vms", "3", "--hot-vms", "4"], "--hot-vms"),
        (["--hosts", "2", "--vms", "3", "--trace", "/nonexistent/day"], "--trace"),
        (["--hosts", "2", "--vms", "3", "--ttl", "5"], "--ttl"),
        (["--hosts", "2", "--vms", "3", "--placement", "random"], "--placement"),
        (["--hosts", "2", "--vms", "3", "--redis", "http://x"], "--redis"),
    ],
)
def test_bad_fleet_options_exit_2_naming_the_option(
    redis_url: str, args: list[str], option: str
) -> None:
    r = (
        run("fleet", "sim", "--redis", redis_url, *args)
        if "--redis" not in args
        else run("fleet", "sim", *args)
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    last = r.stderr.strip().splitlines()[-1]
    assert option in last, r.stderr


def test_a_fleet_in_the_store_is_resumed_only_with_the_same_world(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    first = Fleet(tmp_path / "first.log", redis_url, "--hosts", "3", "--vms", "6",
                  "--speed", "10")  # fmt: skip
    processes.append(first)
    assert first.stop() == 0
    t_stopped = first.clock.now()
    refused = run("fleet", "sim", "--redis", redis_url, "--hosts", "4", "--vms", "6",
                  "--duration-s", "1")  # fmt: skip
    assert refused.returncode == 2
    assert "--hosts" in refused.stderr
    again = Fleet(tmp_path / "again.log", redis_url, "--hosts", "3", "--vms", "6",
                  "--speed", "10")  # fmt: skip
    processes.append(again)
    assert again.clock.anchor == first.clock.anchor  # the same world, its time went on
    assert again.stats()[0]["fleet_time"] >= t_stopped  # type: ignore[operator]
    assert again.stop() == 0


def test_worker_sim_file_without_its_file_exits_2(tmp_path: Path) -> None:
    r = run("worker", "--hypervisor", "sim-file", env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2, r.stderr
    assert "--hypervisor" in r.stderr
