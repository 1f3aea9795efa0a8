"""The agent against the lab's real libvirtd daemons and QEMU guests.

- Collector facts of a guest the test controls (it dirties 16 MiB/s): dirty rate, CPU and
  memory within 30 % of what the guest does and what the kernel says of its QEMU process.
- Agents on lab-a and lab-b, Redis, export, plan: the guest can move to lab-b (the facts
  agree: CPU model, machine type, shared pool, network, versions); once lab-b's agent is
  killed its host turns stale and receives nothing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import psutil
import pytest
import redis

from balancer.core.models import Snapshot
from balancer.core.planner import plan
from balancer.lab.console import last_tick
from balancer.lab.pytest_plugin import BUSY_RATE_MIB_S, BusyGuest, GuestFactory
from balancer.snapshot_file import load_snapshot
from balancer.state.operator import set_host_state
from balancer.state.snapshot_read import snapshot_from_redis
from tests.integration.agent_processes import AgentFactory, balancer, wait_for
from workers.agent.collector import Collector, CollectorConfig
from workers.agent.connection import open_connection

pytestmark = pytest.mark.lab
TOLERANCE = 0.3
PAGES_PER_MIB = 256


def qemu_process(guest: str) -> psutil.Process:
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(arg.startswith(f"guest={guest},") for arg in cmdline):
            return proc
    raise AssertionError(f"no QEMU process for {guest}")


def within(measured: float, expected: float, detail: str) -> None:
    assert abs(measured - expected) <= TOLERANCE * expected, (
        f"{detail}: measured {measured:.3f}, expected {expected:.3f}"
    )


def test_collector_measures_a_guest_it_does_not_control(lab_busy_guest: BusyGuest) -> None:
    scene = lab_busy_guest
    name = scene.guest.name
    conn = open_connection(scene.source.uri)
    config = CollectorConfig(
        host_name="lab-a",
        uri=scene.source.uri,
        virt_type="qemu",
        interval_s=1.0,
        dirty_rate_calc_s=5,
        dirty_rate_period_s=6,
    )
    collector = Collector(config)
    collector.attach(conn)
    try:
        proc = qemu_process(name)
        collector.collect()  # primes the CPU counters, starts a dirty-rate measurement
        cpu0 = proc.cpu_times()
        time.sleep(4)
        cpu1 = proc.cpu_times()
        report = collector.collect()
        vm = next(v for v in report.vms if v.name == name)

        # CPU: cpu.time growth against the kernel's account of the QEMU process.
        used = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 4
        within(vm.cpu_used, used, "cpu_used (cores)")
        # Memory: the guest was given 192 MiB; its QEMU process's RSS as the kernel says.
        within(vm.memory_mib, scene.guest.spec.memory_mib, "memory_mib")
        within(report.vm_rss_mib[name], proc.memory_info().rss / 2**20, "rss_mib")
        assert vm.state == "running"
        assert vm.cpu.model == "Westmere"

        # Facts the planner matches against other hosts.
        host = report.host
        assert vm.machine_type in host.machine_types
        assert host.cpu.models is not None
        assert vm.cpu.model in host.cpu.models
        assert {"default", "shared"} <= set(host.storage_pools)
        assert {"lab-net", "backup-net"} <= set(host.networks)
        assert host.versions.qemu.split(".")[0] == "10"

        # Dirty rate: three page-sampling measurements, each 5 s, averaged, against what the
        # guest says it wrote meanwhile (a starved guest writes less than it was told).
        seen: dict[float, float] = {}
        first, started = last_tick(scene.guest.console_log), time.monotonic()
        while len(seen) < 3 and time.monotonic() < started + 90:
            time.sleep(1)
            r = collector.collect()
            at = r.vm_dirty_rate_at.get(name)
            if at is not None:
                seen[at] = next(v.dirty_rate_mib_s for v in r.vms if v.name == name)
        last, ended = last_tick(scene.guest.console_log), time.monotonic()
        assert len(seen) >= 3, f"only {len(seen)} dirty-rate measurements in 90 s"
        assert first is not None
        assert last is not None
        written = (last.pages - first.pages) / PAGES_PER_MIB / (ended - started)
        assert written > BUSY_RATE_MIB_S / 2, f"the guest wrote only {written:.1f} MiB/s"
        within(statistics.mean(seen.values()), written, f"dirty rate {seen} MiB/s")
    finally:
        conn.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def _idle(snapshot: Snapshot) -> Snapshot:
    """Both lab hosts run on one machine and report its whole load: plan as if idle."""
    hosts = tuple(msgspec.structs.replace(h, cpu_used=0.0) for h in snapshot.hosts)
    return msgspec.structs.replace(snapshot, hosts=hosts)


def test_agents_on_lab_hosts_then_plan_moves_the_guest(
    tmp_path: Path,
    redis_url: str,
    client: redis.Redis,
    lab_guests: GuestFactory,
    agent_processes: AgentFactory,
) -> None:
    lab = lab_guests.lab
    guest = lab_guests.add("lab-a", disk_pool="shared", networks=("lab-net",))
    # lab-b's agent is killed later: a short heartbeat; lab-a's long (a slow machine must
    # not make it look stale).
    agents = {
        host: agent_processes(
            "--libvirt-uri", lab.host(host).uri, "--redis", redis_url, "--host-name", host,
            "--virt-type", "qemu", "--interval", "0.5", "--ttl", ttl, "--shared-pool", "shared",
        )
        for host, ttl in (("lab-a", "60"), ("lab-b", "5"))
    }  # fmt: skip

    def ready() -> bool:
        snap = snapshot_from_redis(client)
        running = {v.name: v.host for v in snap.vms if v.state == "running"}
        active = {h.name for h in snap.hosts if h.state == "active"}
        return active == {"lab-a", "lab-b"} and running.get(guest.name) == "lab-a"

    wait_for(ready, timeout=120, what="both lab hosts and the running guest")
    set_host_state(client, "lab-a", "maintenance", reason="lab test")
    out = tmp_path / "lab.json"
    result = balancer("snapshot", "export", "--redis", redis_url, "--out", str(out))
    assert result.returncode == 0, result.stderr

    planned = plan(_idle(load_snapshot(out)))
    moves = {m.vm: (m.source, m.to, m.mode) for m in planned.moves}
    assert moves.get(guest.name) == ("lab-a", "lab-b", "live"), planned.unmovable

    agents["lab-b"].kill()
    wait_for(
        lambda: {h.name: h.state for h in snapshot_from_redis(client).hosts}["lab-b"] == "failed",
        timeout=60,
        what="lab-b to turn stale",
    )
    stale = plan(_idle(snapshot_from_redis(client)))
    assert all(m.to != "lab-b" for m in stale.moves)
    assert guest.name in {u.vm for u in stale.unmovable}
