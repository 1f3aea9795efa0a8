"""`balancer demo` (what `make demo` runs), shortened: the whole system on a simulated
fleet, as a subprocess; its JSON summary says what happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

pytestmark = pytest.mark.redis


def run_demo(*args: str, timeout: float) -> tuple[int, str, str]:
    """``balancer demo ARGS`` in its own session; past ``timeout`` it gets Ctrl-C (its own
    clean-up), then its whole process group is killed: a slow run fails the test and
    leaves no redis-server, worker or daemon behind for the tests after it."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "balancer.cli.main", "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = demo.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            out, err = demo.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            out, err = demo.communicate()
        pytest.fail(f"the demo ran past {timeout:.0f} s; its last words:\n{err[-3000:]}")
    return demo.returncode, out, err


def test_the_demo_evacuates_powers_off_and_on_loses_nothing_and_stops_everything() -> None:
    returncode, out, err = run_demo("--json", "--minutes", "1.5", timeout=150)
    assert returncode == 0, err[-3000:]
    summary = json.loads(out)
    assert set(summary) >= {
        "moves", "by_reason", "by_mode", "fallbacks", "powered_off", "powered_on",
        "evacuation", "energy_kwh", "energy_kwh_no_power_management", "vms_lost",
        "vms_duplicated",
    }  # fmt: skip
    evacuation = summary["evacuation"]
    assert evacuation["vms_left"] == 0, summary
    assert evacuation["seconds"] is not None
    assert summary["by_reason"].get("evacuation", 0) > 0
    assert summary["powered_off"] >= 1
    assert summary["powered_on"] >= 1
    assert (summary["vms_lost"], summary["vms_duplicated"]) == (0, 0)
    assert (
        summary["moves"] == sum(summary["by_reason"].values()) == sum(summary["by_mode"].values())
    )
    assert 0 < summary["energy_kwh"] < summary["energy_kwh_no_power_management"]
    # Every process it started is gone (redis-server, fleet, workers, daemons).
    assert summary["processes_left"] == []
    assert len(summary["pids"]) == 7  # redis-server, fleet, 2 workers, 2 daemons, exporter
    alive = [p for p in summary["pids"] if psutil.pid_exists(p)]
    zombies = [p for p in alive if psutil.Process(p).status() == psutil.STATUS_ZOMBIE]
    assert alive == zombies == []


def test_ctrl_c_stops_every_process_the_demo_started() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "balancer.cli.main", "demo", "--json", "--minutes", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a failed test kills the whole group (finally below)
    )
    try:
        parent = psutil.Process(demo.pid)
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and len(children) < 7:  # redis, fleet, 2+2, exporter
            time.sleep(0.5)
            children = parent.children(recursive=True)
        assert len(children) >= 7, [c.cmdline()[:4] for c in children]
        demo.send_signal(signal.SIGINT)
        _out, err = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.communicate()
    assert demo.returncode == 130, err[-2000:]
    assert "every process of the demo is stopped" in err
    assert "Traceback" not in err
    _gone, alive = psutil.wait_procs(children, timeout=5)
    for left in alive:  # the failure is reported; the processes must not outlive it
        left.kill()
    assert alive == [], [p.pid for p in alive]
