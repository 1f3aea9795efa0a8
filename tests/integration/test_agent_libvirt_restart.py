"""An agent outlives a real restart of its host's libvirtd (the lab's daemon stopped with
SIGTERM and started again, as ``systemctl restart libvirtd`` does): it logs the lost
connection, reconnects with backoff, and publishes again: heartbeat renewed, VMs listed.
(The unit tests inject a lost connection; this is the real thing.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pytest
import redis

from balancer.lab.pytest_plugin import GuestFactory
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.snapshot_read import snapshot_from_redis
from tests.integration.agent_processes import AgentFactory, wait_for

pytestmark = pytest.mark.lab
HOST = "lab-b"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def _reported(client: redis.Redis) -> tuple[float, dict[str, str]]:
    """When the host's last report was collected (its heartbeat), and its VMs' states."""
    alive = cast(bytes | None, client.get(KEYS.alive(HOST)))
    snap = snapshot_from_redis(client)
    states: dict[str, str] = {v.name: v.state for v in snap.vms if v.host == HOST}
    return (float(alive) if alive else 0.0), states


def test_agent_survives_a_libvirtd_restart(
    redis_url: str,
    client: redis.Redis,
    lab_guests: GuestFactory,
    agent_processes: AgentFactory,
) -> None:
    lab = lab_guests.lab
    guest = lab_guests.add(HOST, start=False)  # defined, shut off: the daemon keeps it
    agent = agent_processes(
        "--libvirt-uri", lab.host(HOST).uri, "--redis", redis_url, "--host-name", HOST,
        "--interval", "0.5", "--ttl", "60",
    )  # fmt: skip
    wait_for(lambda: guest.name in _reported(client)[1], timeout=120, what="the first report")
    old_pid = lab.host(HOST).daemon.pid

    restarted_at = time.time()
    record = lab.restart_host(HOST)
    assert record.daemon.pid != old_pid
    assert record.uri == lab.host(HOST).uri

    def reported_since_restart() -> bool:
        collected_at, states = _reported(client)
        return collected_at > restarted_at + 0.5 and guest.name in states

    wait_for(reported_since_restart, timeout=120, what="a report after the restart")
    assert agent.proc.poll() is None, agent.log()  # still running: never crashed
    log = agent.log()
    assert "libvirt connection lost" in log or "libvirt unavailable" in log, log
    assert log.count(f"connected to {lab.host(HOST).uri}") >= 2, log  # reconnected
    assert "Traceback" not in log, log
    snap = snapshot_from_redis(client)
    host = next(h for h in snap.hosts if h.name == HOST)
    assert (host.state, host.state_reason) == ("active", "")
    assert {v.name: v.state for v in snap.vms}[guest.name] == "shutoff"
    # It goes on publishing on its interval (the heartbeat keeps moving).
    first, _ = _reported(client)
    wait_for(lambda: _reported(client)[0] > first, timeout=30, what="the next report")
