"""The daemon on the lab's real libvirt hosts: agents on lab-a and lab-b, a Celery worker
on libvirt, `balancer daemon`; an operator evacuates lab-a (`balancer evacuate`) and the
daemon moves its guests to lab-b, live: they keep running (their console keeps ticking
through the move) and the evacuation ends `done`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from balancer.lab.console import ticks
from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory
from balancer.state.intents_store import read_intents
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.snapshot_read import snapshot_from_redis
from tests.integration.agent_processes import AgentFactory, agent_processes, balancer, wait_for
from tests.integration.celery_worker import CeleryWorker
from tests.integration.fleet_processes import Process, balancer_argv, wait_until

__all__ = ["agent_processes"]
pytestmark = pytest.mark.lab
#: Evacuation only: two lab hosts on one machine report its whole load, which says
#: nothing about packing or balance.
SETTINGS = {"energy_saving": False, "balance_above": None, "relieve_above": 2.0}


def test_the_daemon_evacuates_a_lab_host_an_operator_put_in_maintenance(
    lab: Lab,
    lab_guests: GuestFactory,
    redis_url: str,
    redis_client: redis.Redis,
    agent_processes: AgentFactory,
    tmp_path: Path,
) -> None:
    guests = [lab_guests.add("lab-a", networks=("lab-net",)) for _ in range(2)]
    for host in ("lab-a", "lab-b"):
        agent_processes(
            "--libvirt-uri", lab.host(host).uri, "--redis", redis_url, "--host-name", host,
            "--virt-type", "qemu", "--interval", "1", "--ttl", "30", "--shared-pool", "shared",
        )  # fmt: skip
    names = {g.name for g in guests}

    def ready() -> bool:
        snap = snapshot_from_redis(redis_client)
        on_a = {v.name for v in snap.vms if v.host == "lab-a" and v.state == "running"}
        return {h.name for h in snap.hosts if h.state == "active"} == {"lab-a", "lab-b"} and (
            names <= on_a
        )

    wait_for(ready, timeout=120, what="both lab hosts and the running guests")
    policy = Path(tmp_path / "policy.json")
    policy.write_text('{"headroom": 0.0}')  # the lab hosts report the whole machine's load
    assert balancer("policy", "set", str(policy), "--redis", redis_url).returncode == 0

    uris = {h: lab.host(h).uri for h in ("lab-a", "lab-b")}
    worker = CeleryWorker(
        tmp_path / "worker",
        {
            "BALANCER_REDIS_URL": redis_url,
            "BALANCER_HYPERVISOR": "libvirt",
            "BALANCER_LIBVIRT_URIS": json.dumps(uris),
        },
        concurrency=2,
    )
    worker.start()
    daemon = Process(
        balancer_argv("-v", "daemon", "--redis", redis_url, "--interval", "3",
                      "--settings", json.dumps(SETTINGS), "--metrics-port", "0"),
        tmp_path / "daemon.log",
    )  # fmt: skip
    try:
        wait_for(lambda: redis_client.exists(KEYS.leader) == 1, timeout=60, what="a leader")
        before = {g.name: g.wait_for_counter(above=g.counter() + 1).counter for g in guests}
        evacuate = balancer("evacuate", "lab-a", "--reason", "lab test", "--redis", redis_url)
        assert evacuate.returncode == 0, evacuate.stderr

        def moved() -> bool:
            snap = snapshot_from_redis(redis_client)
            where = {v.name: (v.host, v.state) for v in snap.vms}
            return all(where.get(n) == ("lab-b", "running") for n in names)

        wait_until("the guests on lab-b", moved, 300, lambda: daemon.log()[-4000:])
        evacuations = read_intents(redis_client, KEYS).intents.evacuations

        def done() -> bool:
            return read_intents(redis_client, KEYS).intents.evacuations[-1].state == "done"

        wait_for(done, timeout=60, what=f"the evacuation to be done: {evacuations}")

        def recorded() -> dict[str, dict[str, object]]:
            listed = balancer("migrations", "--json", "--redis", redis_url)
            assert listed.returncode == 0, listed.stderr
            return {r["vm"]: r for r in json.loads(listed.stdout) if r["vm"] in names}

        # The agents may show a guest on lab-b before the executor has verified the move.
        wait_until(
            "the migrations recorded as ended",
            lambda: all(r["result"] != "running" for r in recorded().values()),
            60,
            lambda: str(recorded()),
        )
        moves = recorded()
        assert {r["result"] for r in moves.values()} == {"completed"}
        assert {r["reason"] for r in moves.values()} == {"evacuation"}
        assert {r["mode"] for r in moves.values()} <= {"live", "live-postcopy"}
        assert all(r["epoch"] == 1 for r in moves.values())
        # The guests kept running: only lab-b's QEMU is left to print, and new ticks with
        # a counter that never went down prove each runs there and was not rebooted.
        for g in guests:
            at_end = g.counter()
            assert at_end > before[g.name]
            g.wait_for_counter(above=at_end + 2, timeout=60)
            counters = [t.counter for t in ticks(g.console_log)]
            assert counters == sorted(counters), counters
    finally:
        daemon.stop()
        worker.stop()
