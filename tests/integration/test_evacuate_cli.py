"""``balancer evacuate … --wait`` and the commands an operator watches it with, as real
processes on the whole simulated system: a real redis-server, ``balancer fleet sim``
(fleet time 20 times real time), a Celery worker on the fleet and ``balancer daemon``.

An evacuation followed with ``--wait`` prints its progress and exits 0 once the host is
empty; one whose VM is pinned to the host exits 3 naming the VM and why, and ``plan``
(the daemon's dry run) says the same. ``migrations --watch --json`` streams the moves as
they end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from balancer.daemon.leader import current_leader
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.snapshot_read import snapshot_from_redis
from tests.fixtures.ctrl_c import press_ctrl_c
from tests.integration.fleet_processes import (
    REPO,
    DaemonProcess,
    Fleet,
    FleetWorker,
    Process,
    balancer_argv,
    processes,
    wait_until,
)

__all__ = ["processes"]
pytestmark = pytest.mark.redis

#: Evacuations only: no energy saving, no balance (the rest of the fleet stays put).
SETTINGS: dict[str, object] = {"energy_saving": False, "balance_above": None}
HOST = "host-3"
#: A host in maintenance powered off: still the operator's state, the power record's reason.
OFF = ("maintenance", "powered-off")


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(balancer_argv(*args), cwd=REPO, input=stdin, capture_output=True,
                          text=True, timeout=180, check=False)  # fmt: skip


def system(tmp_path: Path, redis_url: str, processes: list[Process]) -> Fleet:
    """24 VMs spread over 6 hosts, a worker with two slots, one daemon leading."""
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "6", "--vms", "24",
                  "--placement", "spread", "--speed", "20", "--interval", "30")  # fmt: skip
    processes.append(fleet)
    processes.append(FleetWorker(tmp_path, redis_url, "w1", concurrency=2))
    daemon = DaemonProcess(tmp_path, redis_url, "d1", settings=SETTINGS)
    processes.append(daemon)
    wait_until("the daemon to lead", lambda: current_leader(fleet.client, KEYS) is not None, 30)
    return fleet


def _state(redis_url: str, host: str) -> tuple[str, str]:
    rows = json.loads(cli("hosts", "--json", "--redis", redis_url).stdout)
    row = next(r for r in rows if r["name"] == host)
    return str(row["state"]), str(row["reason"])


def on_host(fleet: Fleet, host: str) -> list[str]:
    snap = snapshot_from_redis(fleet.client, keys=KEYS, now=fleet.clock.now())
    return sorted(v.name for v in snap.vms if v.host == host)


def test_evacuate_wait_shows_progress_and_exits_0_once_the_host_is_empty(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    fleet = system(tmp_path, redis_url, processes)
    leaving = on_host(fleet, HOST)
    assert len(leaving) == 4
    watcher = subprocess.Popen(
        balancer_argv("migrations", "--watch", "--json", "--every", "0.3", "--redis", redis_url),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        result = cli("evacuate", HOST, "--wait", "--timeout", "120", "--reason", "DIMM",
                     "--redis", redis_url)  # fmt: skip
    finally:
        streamed, watch_err = press_ctrl_c(watcher)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert f"{HOST}: empty after" in result.stdout
    for vm in leaving:  # progress: each VM is followed as it leaves
        assert vm in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert int(fleet.client.scard(KEYS.sim_host_vms(HOST))) == 0

    assert watcher.returncode == 0, watch_err
    records = [json.loads(line) for line in streamed.splitlines() if line.strip()]
    done = {r["vm"] for r in records if r["source"] == HOST and r["result"] == "completed"}
    assert done == set(leaving), records

    def evacuations() -> list[tuple[str, str]]:
        rows = json.loads(cli("evacuations", "--json", "--redis", redis_url).stdout)
        return [(e["host"], e["state"]) for e in rows]

    # the daemon's bookkeeping marks it done at its next cycle
    wait_until("the evacuation to be done", lambda: evacuations() == [(HOST, "done")], 30,
               explain=lambda: repr(evacuations()))  # fmt: skip

    # Empty, it may be powered off by the operator (--force: the fleet's hosts were all
    # powered on a minute of real time ago, within the daemon's min_on_s), then on again;
    # in between a second power-off is refused.
    for action in ("off", "on"):
        power = cli("power", action, HOST, "--force", "--wait", "--worker-timeout", "30",
                    "--json", "--redis", redis_url)  # fmt: skip
        assert power.returncode == 0, (power.stdout, power.stderr)
        assert json.loads(power.stdout)["result"] == "completed"
        if action == "off":
            # still the operator's maintenance (never a spare to power on and fill)
            wait_until(f"{HOST} to show powered off", lambda: _state(redis_url, HOST) == OFF, 30)
            refused = cli("power", "off", HOST, "--redis", redis_url)
            assert refused.returncode == 2, refused.stderr
            assert f"{HOST} is already off" in refused.stderr


def test_evacuate_wait_exits_3_naming_the_vm_that_cannot_leave_and_why(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    fleet = system(tmp_path, redis_url, processes)
    leaving = on_host(fleet, HOST)
    pinned = leaving[0]
    rule = json.dumps({"stay": {"type": "pin", "vm": pinned, "hosts": [HOST]}})
    put = cli("rules", "put", "-", "--redis", redis_url, stdin=rule)
    assert put.returncode == 0, put.stderr

    result = cli("evacuate", HOST, "--wait", "--timeout", "120", "--redis", redis_url)
    assert result.returncode == 3, (result.stdout, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: 1 VM(s) stay on {HOST}: "), result.stderr
    assert "Could not leave" in result.stdout
    row = next(line for line in result.stdout.splitlines() if pinned in line)
    assert "no-destination" in row, result.stdout
    assert f"pinned to {HOST}" in result.stdout  # rich may fold the detail onto a second line
    assert int(fleet.client.scard(KEYS.sim_host_vms(HOST))) == 1  # the others left

    plan = cli("plan", "--json", "--redis", redis_url)  # the daemon's dry run agrees
    assert plan.returncode == 3, plan.stderr
    doc = json.loads(plan.stdout)
    assert [(u["vm"], u["reason"]) for u in doc["left_behind"]] == [(pinned, "no-destination")]
    assert "1 VM(s) cannot move" in doc["daemon"]["summary"]
    explain = json.loads(cli("explain", pinned, "--json", "--redis", redis_url).stdout)
    assert explain["move"] is None
    assert explain["unmovable"] is not None
