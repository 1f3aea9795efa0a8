"""A lab stops completely: by `down`, and by its watchdog when its owner is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from balancer.lab import bridges
from balancer.lab.lab import Lab
from balancer.lab.paths import labs_root
from balancer.lab.procs import ProcessId, processes_in_namespace
from balancer.lab.slots import Slot
from balancer.lab.specs import GuestSpec, default_host_specs
from balancer.lab.stale import reap_stale_labs
from balancer.lab.state import LabState, load
from balancer.lab.teardown import host_processes

pytestmark = pytest.mark.lab


def cgroups_of_guests() -> list[str]:
    """Cgroup directories libvirt would create for guests (it must create none)."""
    words = ("machine", "qemu", "libvirt")
    return sorted(
        str(path)
        for path in Path("/sys/fs/cgroup").rglob("*")
        if path.is_dir() and any(word in path.name for word in words)
    )


def mounts_of(root: Path) -> list[str]:
    """Entries of the machine's mount table that involve the lab."""
    table = Path("/proc/1/mountinfo").read_text().splitlines()
    return [line for line in table if str(root) in line or "libvirt" in line]


def assert_gone(state: LabState, procs: list[ProcessId]) -> None:
    assert procs, "expected to have seen the lab's processes"
    assert [p for p in procs if p.is_running()] == []
    for host in state.hosts:
        assert processes_in_namespace(host.mount_ns) == []
        assert bridges.with_prefix(Slot(host.slot).bridge_prefix) == []
        assert not Slot(host.slot).path().exists()
    assert not Path(state.root).exists()
    assert mounts_of(Path(state.root)) == []


def test_down_leaves_nothing_behind() -> None:
    cgroups_before = cgroups_of_guests()
    lab = Lab(labs_root() / f"pytest-{os.getpid()}-down")
    try:
        lab.up(default_host_specs(1), owner=ProcessId.of(os.getpid()))
        lab.add_guest("lab-a", GuestSpec("down-1", networks=("lab-net",)))
        state = lab.state()
        procs = host_processes(state.hosts[0])
        main = ("libvirtd", "qemu-system-x86")
        assert sorted(p.name() for p in procs if p.name() in main) == list(main)
        assert bridges.with_prefix(Slot(state.hosts[0].slot).bridge_prefix)
        # The daemon's bind mounts exist only in its own namespace.
        assert mounts_of(lab.root) == []
        assert cgroups_of_guests() == cgroups_before
    finally:
        lab.down()
    assert_gone(state, procs)
    assert cgroups_of_guests() == cgroups_before


OWNER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from balancer.lab import watchdog
    from balancer.lab.lab import Lab
    from balancer.lab.procs import ProcessId
    from balancer.lab.specs import GuestSpec, default_host_specs

    root, guard = Path(sys.argv[1]), sys.argv[2] == "watchdog"
    root.mkdir(parents=True)
    keep = watchdog.start(root) if guard else None
    lab = Lab(root)
    lab.up(default_host_specs(1), owner=ProcessId.of(os.getpid()))
    lab.add_guest("lab-a", GuestSpec("orphan-1"))
    print("ready", flush=True)
    time.sleep(600)
    """
)


def start_and_kill_owner(root: Path, mode: str) -> tuple[LabState, list[ProcessId]]:
    """Run a process that brings a lab up, then SIGKILL it: nothing of its own runs."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(root), mode], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline() == "ready\n"
        state = load(root)
        assert state is not None
        procs = host_processes(state.hosts[0])
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(30)
        if owner.stdout is not None:
            owner.stdout.close()
    return state, procs


def test_watchdog_stops_the_lab_of_a_killed_owner() -> None:
    root = labs_root() / f"pytest-{os.getpid()}-wd"
    state, procs = start_and_kill_owner(root, "watchdog")
    deadline = time.monotonic() + 60
    while root.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_gone(state, procs)


def test_stale_labs_are_reaped() -> None:
    # One level deeper than the labs other test sessions reap when they start.
    parent = labs_root() / f"pytest-{os.getpid()}-stale"
    root = parent / "lab"
    try:
        state, procs = start_and_kill_owner(root, "none")
        assert any(p.is_running() for p in procs)  # nobody stopped it
        assert reap_stale_labs(parent) == [root]
        assert_gone(state, procs)
    finally:
        reap_stale_labs(parent)
        parent.rmdir()
