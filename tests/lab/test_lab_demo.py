"""`make lab-demo` in a shortened form: `balancer lab demo --json` on three lab hosts and
three guests, about two minutes; and the pieces it adds to the lab: guests that burn CPU
on command (through a live migration), a host powered off and on by the lab's power
driver."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from balancer.errors import PowerRefusedError, RetryableError
from balancer.lab.guest_load import cpu_levels, set_cpu
from balancer.lab.lab import Lab
from balancer.lab.paths import labs_root
from balancer.lab.power import LabPower
from balancer.lab.probes import LIVE_P2P
from balancer.lab.pytest_plugin import GuestFactory
from balancer.launch.processes import balancer_argv
from workers.executor.libvirt_hv import LibvirtHypervisor

pytestmark = pytest.mark.lab
#: The whole run, start and stop included (`--minutes 2`), with a margin.
DEMO_TIMEOUT_S = 240


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting for PID 1 to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_the_lab_demo_balances_evacuates_and_powers_real_hosts() -> None:
    began = time.monotonic()
    proc = subprocess.Popen(
        balancer_argv("lab", "demo", "--json", "--hosts", "3", "--guests", "3",
                      "--minutes", "2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, err = proc.communicate(timeout=DEMO_TIMEOUT_S)
    wall = time.monotonic() - began
    assert proc.returncode == 0, err[-3000:]
    s = json.loads(out)
    assert s["moves"] >= 2, s  # the night's consolidation, then the evacuation
    assert s["by_reason"].get("evacuation", 0) >= 1, s
    assert s["evacuation"] is not None, s
    assert s["evacuation"]["vms_left"] == 0, s
    assert s["evacuation"]["seconds"] is not None, s
    assert s["powered_off"] >= 1, s
    assert s["vms_lost"] == 0, s
    assert s["vms_duplicated"] == 0, s
    assert s["failed"] == 0, s
    assert s["energy_kwh"] < s["energy_kwh_no_power_management"], s
    assert s["processes_left"] == [], s
    assert s["pids"], s
    assert all(_gone(p) for p in s["pids"]), s["pids"]
    assert not (labs_root() / f"demo-{proc.pid}").exists()
    assert wall < DEMO_TIMEOUT_S


def test_a_guest_burns_cpu_on_command_and_keeps_its_level_through_a_migration(
    lab: Lab, lab_guests: GuestFactory
) -> None:
    guest = lab_guests.add("lab-a", memory_mib=128, working_set_mib=16, commands=True)

    def cores(host: str, seconds: float = 2.0) -> float:
        dom = lab.conn(host).lookupByName(guest.name)
        start = dom.getCPUStats(True)[0]["cpu_time"]
        time.sleep(seconds)
        return float(dom.getCPUStats(True)[0]["cpu_time"] - start) / seconds / 1e9

    idle = cores("lab-a")
    set_cpu(lab.conn("lab-a").lookupByName(guest.name), guest.console_log, 60, timeout=20)
    busy = cores("lab-a")
    assert busy > idle + 0.15, (idle, busy)
    lab.conn("lab-a").lookupByName(guest.name).migrateToURI3(lab.host("lab-b").uri, {}, LIVE_P2P)
    assert cores("lab-b") > idle + 0.15  # the level is the guest's own: it moved along
    set_cpu(lab.conn("lab-b").lookupByName(guest.name), guest.console_log, 0, timeout=20)
    assert cpu_levels(guest.console_log)[-2:] == [60, 0]
    assert cores("lab-b") < busy - 0.15


def test_the_lab_power_driver_stops_and_starts_a_hosts_libvirtd(
    lab: Lab, lab_guests: GuestFactory
) -> None:
    lab_guests.add("lab-a", memory_mib=128, working_set_mib=16)
    with pytest.raises(PowerRefusedError, match="runs guests"):
        LabPower(lab.root, "lab-a").power_off()
    hv = LibvirtHypervisor({"lab-b": lab.host("lab-b").uri})
    assert hv.domains("lab-b") == ()
    before = lab.host("lab-b").daemon
    LabPower(lab.root, "lab-b").power_off()
    LabPower(lab.root, "lab-b").power_off()  # again: nothing to do
    assert not before.is_running()
    try:
        hosts = {h["name"]: h for h in lab.status().to_json()["hosts"]}
        assert hosts["lab-b"]["running"] is False
        with pytest.raises(RetryableError, match="lab-b"):
            hv.domains("lab-b")
    finally:
        LabPower(lab.root, "lab-b").power_on()
        lab.close()  # the session lab's connection to the old daemon
    after = lab.host("lab-b")
    assert after.daemon.is_running()
    assert after.daemon != before
    assert hv.domains("lab-b") == ()  # the worker's connection is opened again
