"""A simulated host powered off stops reporting (its heartbeat expires; the worker's power
record makes the snapshot show it off, not failed); powered on, it boots for the fleet's
boot time and reports again, as a new agent would (its report sequence restarts)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from balancer.fleet.store import FleetStore
from balancer.state.snapshot_read import snapshot_from_redis
from tests.integration.fleet_processes import Fleet, Process, processes, wait_until
from workers.executor.fence import Fence
from workers.executor.fleet_hv import FleetHypervisor
from workers.executor.order import PowerOrder
from workers.power import actions
from workers.power.sim import SimPower

__all__ = ["processes"]
pytestmark = pytest.mark.redis
SPEED, INTERVAL, BOOT = 10.0, 10.0, 40.0


def test_power_off_silences_a_host_and_power_on_brings_it_back(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "4", "--vms", "3",
                  "--placement", "spread", "--speed", str(SPEED), "--interval", str(INTERVAL),
                  "--boot-s", str(BOOT))  # fmt: skip
    processes.append(fleet)
    store = FleetStore(fleet.client, fleet.keys)
    hv = FleetHypervisor(store, fleet.clock.now)
    host = "host-3"  # the spread leaves it empty
    alive = fleet.keys.alive(host)
    wait_until("host-3's second report", lambda: fleet.seq(host) >= 2)
    driver = SimPower(host, store, fleet.clock.now)

    deps = actions.PowerDeps(fleet.client, fleet.keys, Fence(fleet.client), fleet.clock.now,
                             fleet.clock.sleep)  # fmt: skip
    off = PowerOrder(id="off-host-3", host=host, action="off")
    actions.power_off(off, lambda h: SimPower(h, store, fleet.clock.now), hv, deps, "t")
    off_at = time.monotonic()
    wait_until("the heartbeat to expire", lambda: not fleet.client.exists(alive), timeout_s=30)
    # three intervals of heartbeat, in real time
    assert time.monotonic() - off_at >= 3 * INTERVAL / SPEED * 0.5
    state = {h.name: h for h in snapshot_from_redis(fleet.client, now=fleet.clock.now()).hosts}
    # Powered off by a worker: off (a spare for power-on), not failed by heartbeat loss.
    assert state[host].state == "off"
    assert state[host].state_reason == "powered-off"
    assert state["host-0"].state == "active"

    driver.power_on()
    on_at = fleet.clock.now()
    wait_until("the host to report again", lambda: bool(fleet.client.exists(alive)),
               timeout_s=30)  # fmt: skip
    report = fleet.report(host)
    assert report is not None
    assert report.collected_at >= on_at + BOOT
    assert report.seq == 1  # a new agent after the boot
    power = store.power(host)
    assert power is not None
    assert power.state == "on"
    back = {h.name: h for h in snapshot_from_redis(fleet.client, now=fleet.clock.now()).hosts}
    assert back[host].state == "active"
