"""The whole system on the simulated fleet: real redis-server, `balancer fleet sim`, Celery
workers on the fleet (`balancer worker --hypervisor sim`) and `balancer daemon`s, all
real processes; fleet time runs 20-30 times faster than real time.

Leader timings are short (lease 3 s, renew deadline 2 s, retry 0.5 s, real seconds) so a
takeover takes seconds; the rules they obey are the defaults' (15/10/2).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from balancer.core.models import Snapshot
from balancer.daemon.leader import current_leader
from balancer.state.intents_store import read_intents
from balancer.state.snapshot_read import snapshot_from_redis
from tests.integration.fleet_processes import (
    DaemonProcess,
    Fleet,
    FleetWorker,
    Process,
    balancer_argv,
    processes,
    wait_until,
)
from tests.integration.system_checks import (
    KEYS,
    cycles,
    fleet_problems,
    flight_pending,
    migrations,
    overlapping,
    quiet,
    twice_completed,
)
from workers.power.actions import power_records

__all__ = ["processes"]
pytestmark = pytest.mark.redis

LEASE_S, RETRY_S = 3.0, 0.5
#: Short windows in fleet seconds, so a test sees several of them.
SETTINGS: dict[str, object] = {
    "consolidate_every_s": 300,
    "forecast_window_s": 600,
    "min_on_s": 120,
    "min_off_s": 60,
    "boot_s": 300,
}


def spread_fleet(tmp_path: Path, redis_url: str, *extra: str) -> Fleet:
    """60 VMs spread over 8 hosts: a consolidation of 20-odd moves in several waves; a
    slow link (25 MiB/s: a big VM takes a minute of fleet time) keeps them in flight."""
    return Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "8", "--vms", "60",
                 "--placement", "spread", "--speed", "20", "--interval", "30",
                 "--bandwidth", "25", "--boot-s", "60", *extra)  # fmt: skip


def two_daemons(
    tmp_path: Path, redis_url: str, processes: list[Process]
) -> tuple[Fleet, dict[str, DaemonProcess]]:
    """The spread fleet, a worker with three slots, and daemons d1 and d2."""
    fleet = spread_fleet(tmp_path, redis_url)
    processes.append(fleet)
    processes.append(FleetWorker(tmp_path, redis_url, "w1", concurrency=3))
    daemons = {n: DaemonProcess(tmp_path, redis_url, n, settings=SETTINGS) for n in ("d1", "d2")}
    processes.extend(daemons.values())
    return fleet, daemons


def leader_id(fleet: Fleet) -> str | None:
    leader = current_leader(fleet.client, KEYS)
    return None if leader is None else leader.id


def test_two_daemons_one_acts_and_a_stalled_leader_is_fenced(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    fleet, daemons = two_daemons(tmp_path, redis_url, processes)
    client = fleet.client

    def stalled_plan() -> bool:
        _plan, queued, running = flight_pending(client)
        return queued >= 3 and running >= 1

    wait_until("a plan with moves running and waves still queued", stalled_plan, 90)
    first = current_leader(client, KEYS)
    assert first is not None
    old = daemons[first.id]
    other = next(d for d in daemons.values() if d is not old)
    old_plan = flight_pending(client)[0]

    old.pause()
    stopped = time.monotonic()
    wait_until("another daemon to lead", lambda: leader_id(fleet) == other.name, 30)
    takeover_s = time.monotonic() - stopped
    taken_at = fleet.clock.now()  # fleet time, just after the takeover
    second = current_leader(client, KEYS)
    assert second is not None
    assert second.epoch == first.epoch + 1
    assert takeover_s <= LEASE_S + RETRY_S + 1.0, takeover_s  # + polling and scheduling

    time.sleep(1.0)
    old.resume()  # it wakes up believing it leads
    wait_until("the old leader to notice", lambda: "stops leading" in old.log(), 30)
    wait_until("the old plan to end", lambda: quiet(client), 120)

    records = migrations(client)
    mine = [r for r in records if r.plan_id == old_plan]
    assert any(r.result == "fenced" for r in mine), [(r.vm, r.result) for r in mine]
    for r in mine:
        assert r.epoch == first.epoch
        # A move of the old epoch that ran had passed its fence before the takeover.
        if r.result in ("completed", "failed"):
            assert r.started_at <= taken_at, (r.vm, r.started_at, taken_at)
    assert overlapping(records) == []
    assert twice_completed(client) == []
    assert fleet_problems(client, 60) == []
    # Exactly one daemon acted under each epoch, and the old one not after the takeover.
    acted = [c for c in cycles(client) if c.outcome != "fenced"]
    by_epoch = {c.epoch: {x.leader for x in acted if x.epoch == c.epoch} for c in acted}
    assert by_epoch[first.epoch] == {first.id}
    assert by_epoch.get(second.epoch, {second.id}) == {second.id}
    assert all(c.at <= taken_at for c in acted if c.leader == first.id)


def test_a_leader_killed_mid_plan_is_replaced_and_no_move_runs_twice(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    fleet, daemons = two_daemons(tmp_path, redis_url, processes)
    client = fleet.client
    wait_until("a plan in flight", lambda: flight_pending(client)[1] >= 2, 90)
    first = current_leader(client, KEYS)
    assert first is not None
    old_plan = flight_pending(client)[0]
    daemons[first.id].kill()
    survivor = next(n for n in daemons if n != first.id)
    wait_until("the survivor to lead", lambda: leader_id(fleet) == survivor, 30)
    # The new leader follows the plan it found in flight, then plans again.
    wait_until(
        "the new leader to follow the old plan",
        lambda: any(c.leader == survivor and c.plan_id == old_plan for c in cycles(client)),
        30,
    )
    wait_until("the old plan to end", lambda: quiet(client), 120)
    records = migrations(client)
    assert {r.result for r in records if r.plan_id == old_plan} <= {"completed", "fenced"}
    assert twice_completed(client) == []
    assert overlapping(records) == []
    assert fleet_problems(client, 60) == []


def test_an_evacuation_cancelled_half_way_and_resumed_empties_the_host(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    # Evacuation only: no energy saving, no balance (the fleet stays as it is otherwise).
    settings = {**SETTINGS, "energy_saving": False, "balance_above": None}
    fleet = spread_fleet(tmp_path, redis_url)
    processes.append(fleet)
    processes.append(FleetWorker(tmp_path, redis_url, "w1", concurrency=2))
    processes.append(DaemonProcess(tmp_path, redis_url, "d1", settings=settings))
    client = fleet.client
    wait_until("a leader", lambda: leader_id(fleet) == "d1", 30)
    host = "host-3"
    on_host = sorted(v.name for v in fleet_snapshot(fleet).vms if v.host == host)
    assert len(on_host) >= 6

    evacuate = cli(redis_url, "evacuate", host, "--reason", "DIMM replacement")
    assert evacuate.returncode == 0, evacuate.stderr
    evacuation_id = evacuate.stdout.split(":")[0]
    wait_until(
        "some VMs to leave",
        lambda: 0 < left_on(fleet, host) <= len(on_host) - 2,
        90,
        lambda: (
            f"{left_on(fleet, host)} of {len(on_host)} left; daemon: {processes[2].log()[-1500:]}"
        ),
    )

    cancel = cli(redis_url, "cancel", evacuation_id)
    assert cancel.returncode == 0, cancel.stderr
    assert "cancelled" in cancel.stdout
    wait_until("the moves under way to end", lambda: quiet(client), 60)
    held = left_on(fleet, host)
    cancelled_at = fleet.clock.now()
    time.sleep(6.0)  # two daemon cycles
    assert left_on(fleet, host) == held > 0  # the daemon leaves the host alone
    assert not [r for r in migrations(client) if r.source == host and r.started_at > cancelled_at
                and r.result == "completed"]  # fmt: skip
    time.sleep(2.0)  # a round of reports: the snapshot shows what the placement does
    status = json.loads(cli(redis_url, "status", "--json").stdout)
    assert [(e["state"], e["vms_left"]) for e in status["evacuations"]] == [("cancelled", held)]

    resume = cli(redis_url, "resume", evacuation_id)
    assert resume.returncode == 0, resume.stderr
    wait_until("the host to be empty", lambda: left_on(fleet, host) == 0, 120)
    wait_until("the evacuation to be done", lambda: evacuation_state(fleet) == "done", 30)
    assert fleet_problems(client, 60) == []
    assert overlapping(migrations(client)) == []


def test_a_host_powered_off_is_off_and_powered_on_before_the_others_pass_the_relief_line(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    # CPU is what comes and goes here: the policy packs by CPU alone (the PlanetLab
    # reference's mode), so the night's load fits on few hosts and the morning's does not.
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "6", "--vms", "48",
                  "--speed", "30", "--interval", "30", "--boot-s", "60",
                  "--placement", "spread")  # fmt: skip
    processes.append(fleet)
    policy = cli(redis_url, "policy", "set", "-", input='{"capacity_mode": "cpu-only"}')
    assert policy.returncode == 0, policy.stderr
    processes.append(FleetWorker(tmp_path, redis_url, "w1", concurrency=3))
    processes.append(DaemonProcess(tmp_path, redis_url, "d1", settings=SETTINGS))
    wait_until("hosts powered off", lambda: len(powered_off(fleet)) >= 2, 120)
    wait_until("the consolidation to settle", lambda: quiet(fleet.client), 60)
    off = powered_off(fleet)
    snap = fleet_snapshot(fleet)
    states = {h.name: (h.state, h.state_reason) for h in snap.hosts if h.name in off}
    # off, not failed through heartbeat loss
    assert states == dict.fromkeys(off, ("off", "powered-off"))

    # The load returns, 10 % a cycle; the daemon must add capacity before any host is
    # over the relief line (1.0 of its capacity). Each step waits for two of the daemon's
    # cycles (the second saw the new load), not for a fixed real time: on a busy machine
    # a cycle takes longer, and a ramp on the wall clock would outrun the daemon.
    peaks: list[tuple[float, float]] = []
    scale = 1.0
    while not power_ons(fleet) and scale < 20.0:
        scale = round(scale * 1.1, 3)
        set_load(fleet, scale)
        cycles, seen = 0, fleet.client.get(KEYS.last_cycle)
        deadline = time.monotonic() + 30.0
        while cycles < 2 and time.monotonic() < deadline:
            peaks.append((fleet.clock.now(), peak_utilization(fleet)))
            time.sleep(0.2)
            latest = fleet.client.get(KEYS.last_cycle)
            cycles, seen = cycles + (latest != seen), latest
    on_at = power_ons(fleet)
    assert on_at, f"no power-on up to load x{scale}"
    over = [t for t, u in peaks if u > 1.0]
    assert not over or min(on_at) < min(over), (min(on_at), over[:3])
    powered_on = [r.host for r in power_records(fleet.client, KEYS) if r.action == "on"]

    def reports_again() -> bool:
        hosts = {h.name: h for h in fleet_snapshot(fleet).hosts}
        return any(hosts[h].state == "active" for h in powered_on)

    wait_until("a powered-on host to report", reports_again, 60)
    on = next(h for h in fleet_snapshot(fleet).hosts if h.name in powered_on)
    assert on.state_reason == ""  # its power record is moot with its first report


# -- helpers ------------------------------------------------------------------------------


def fleet_snapshot(fleet: Fleet) -> Snapshot:
    return snapshot_from_redis(fleet.client, keys=KEYS, now=fleet.clock.now())


def left_on(fleet: Fleet, host: str) -> int:
    """VMs on ``host`` now, from the fleet's placement (a snapshot lags by a report)."""
    return int(fleet.client.scard(KEYS.sim_host_vms(host)))


def cli(redis_url: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*balancer_argv(*args), "--redis", redis_url],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def evacuation_state(fleet: Fleet) -> str:
    evacuations = read_intents(fleet.client, KEYS).intents.evacuations
    return evacuations[-1].state if evacuations else ""


def set_load(fleet: Fleet, scale: float) -> None:
    fleet.client.set(KEYS.sim_load_scale, repr(scale))


def powered_off(fleet: Fleet) -> list[str]:
    return sorted(h.name for h in fleet_snapshot(fleet).hosts if h.state_reason == "powered-off")


def power_ons(fleet: Fleet) -> list[float]:
    return [r.at for r in power_records(fleet.client, KEYS) if r.action == "on"]


def peak_utilization(fleet: Fleet) -> float:
    hosts = [h for h in fleet_snapshot(fleet).hosts if h.state == "active"]
    return max((h.cpu_used / h.cpu_capacity_cores for h in hosts), default=0.0)
