"""`balancer lab` from the command line: up, guest add, status --json, down; and the
new user's path on it: an agent report per host, then `balancer migrate g --to lab-b`
(through the planner, as issue 14 tried it)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from balancer.cli.main import main
from balancer.lab.cli import lab
from balancer.lab.console import last_tick
from balancer.lab.lab import Lab
from balancer.lab.paths import labs_root
from balancer.lab.specs import default_host_specs
from balancer.lab.teardown import host_processes

pytestmark = pytest.mark.lab
MAIN_PROCESSES = ("libvirtd", "qemu-system-x86")


def test_cli_up_guest_migrate_status_down(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = labs_root() / f"pytest-{os.getpid()}-cli"
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(lab, ["--dir", str(root), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    def balancer(*args: str) -> str:
        result = runner.invoke(main, [*args, "--redis", redis_url])
        assert result.exit_code == 0, result.output
        return result.output

    try:
        run("up", "--hosts", "2")
        run("up", "--hosts", "2")  # idempotent: both hosts are up already
        run("guest", "add", "lab-a", "--name", "g", "--memory", "160")  # the guest
        uris = {h["name"]: h["uri"] for h in json.loads(run("status", "--json"))["hosts"]}
        for host, uri in uris.items():  # the lab's hosts share this machine: count VMs only
            balancer("agent", "--libvirt-uri", uri, "--host-name", host, "--once",
                     "--usage-from-vms")  # fmt: skip
        monkeypatch.setenv("BALANCER_LIBVIRT_URIS", json.dumps(uris))  # the worker's
        moved = balancer("migrate", "g", "--to", "lab-b", "--inline")
        status = json.loads(run("status", "--json"))
        tick = last_tick(Path(status["guests"][0]["console_log"]))
        procs = [p for h in Lab(root).state().hosts for p in host_processes(h)]
        names = sorted(p.name() for p in procs if p.name() in MAIN_PROCESSES)
    finally:
        down = runner.invoke(lab, ["--dir", str(root), "down"], catch_exceptions=False)
    assert down.exit_code == 0, down.output

    hosts = {h["name"]: h for h in status["hosts"]}
    assert set(hosts) == {"lab-a", "lab-b"}
    assert len({h["migration_address"] for h in hosts.values()}) == 2
    assert all(h["uri"].startswith("qemu+unix:///system?socket=") for h in hosts.values())
    [guest] = status["guests"]
    assert (guest["name"], guest["host"], guest["state"]) == ("g", "lab-b", "running")
    assert "completed" in moved, moved
    assert tick is not None
    assert tick.counter >= 1
    assert names == ["libvirtd", "libvirtd", "qemu-system-x86"]
    assert not any(p.is_running() for p in procs)  # all stopped by `down`
    assert not root.exists()


def test_virsh_can_drive_a_lab_host() -> None:
    the_lab = Lab(labs_root() / f"pytest-{os.getpid()}-virsh")
    try:
        [host] = the_lab.up(default_host_specs(1))
        listed = subprocess.run(
            ["virsh", "-c", host.uri, "net-list", "--name"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    finally:
        the_lab.down()
    assert sorted(listed) == ["backup-net", "lab-net"]
