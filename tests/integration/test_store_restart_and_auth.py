"""A real redis-server restarted with persistence (state back, agents reconnect), an ACL
user for agents, TLS, and credentials that never show."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import pytest
import redis
import trustme

from balancer.core.models import PinRule
from balancer.state.connect import redis_from_url
from balancer.state.operator import put_rule, set_host_state
from balancer.state.snapshot_read import snapshot_from_redis
from tests.fixtures.redis_server import RedisFactory, TlsFiles
from tests.integration.acl_users import apply_acl
from tests.integration.agent_processes import (
    AgentFactory,
    AgentProcess,
    balancer,
    wait_for,
    write_node,
)

pytestmark = pytest.mark.redis

#: Agent and reader users as ``balancer acl`` prints them (tests/integration/acl_users.py).
HOST = "kvm-05"


def _logged(agent: AgentProcess, text: str) -> bool:
    return text in agent.log()


def test_restart_with_persistence_keeps_state_and_agents_reconnect(
    tmp_path: Path, redis_server_factory: RedisFactory, agent_processes: AgentFactory
) -> None:
    server = redis_server_factory(persistent=True)
    agents = [
        agent_processes(
            "--libvirt-uri", write_node(tmp_path, host, vms), "--redis", server.url,
            "--host-name", host, "--interval", "0.3", "--ttl", "30",
        )
        for host, vms in (("kvm-01", ("a1",)), ("kvm-02", ("b1", "b2")))
    ]  # fmt: skip
    client = redis_from_url(server.url)
    wait_for(lambda: len(snapshot_from_redis(client).hosts) == 2, what="two hosts")
    set_host_state(client, "kvm-02", "maintenance", reason="disk swap")
    put_rule(client, "pin-a1", PinRule(vm="a1", hosts=("kvm-01",)))
    before = snapshot_from_redis(client)

    server.stop()
    for agent in agents:  # they notice, log it, and keep running
        wait_for(partial(_logged, agent, "not published"), what="agents to notice")
        assert agent.proc.poll() is None
    restarted_at = time.time()
    server.start()  # same port, same directory: the append-only file is read back

    after = snapshot_from_redis(client)  # the pool reconnects by itself
    assert after.generation >= before.generation
    assert {h.name: h.state for h in after.hosts} == {"kvm-01": "active", "kvm-02": "maintenance"}
    assert after.rules == (PinRule(vm="a1", hosts=("kvm-01",)),)
    assert sorted(v.name for v in after.vms) == ["a1", "b1", "b2"]

    def reconnected() -> bool:
        raw = client.mget([f"kvmb:host:{h}:alive" for h in ("kvm-01", "kvm-02")])
        return all(v is not None and float(v) > restarted_at for v in raw)

    wait_for(reconnected, timeout=60, what="both agents to publish again")
    assert snapshot_from_redis(client).generation > after.generation
    for agent in agents:
        assert agent.proc.poll() is None
    client.close()


def test_acl_user_publishes_and_password_never_shows(
    tmp_path: Path, redis_server_factory: RedisFactory
) -> None:
    server = redis_server_factory()
    users = apply_acl(server, HOST)
    password = users.passwords[f"agent-{HOST}"]
    uri = write_node(tmp_path, HOST, ("e1",))
    url = users.url(f"agent-{HOST}")
    ok = balancer("agent", "--libvirt-uri", uri, "--redis", url, "--host-name", HOST, "--once")
    assert ok.returncode == 0, ok.stderr
    assert password not in ok.stdout + ok.stderr

    # The agent's user cannot read the store; a reader user exports it.
    denied = balancer("snapshot", "export", "--redis", url)
    assert denied.returncode == 1
    assert f"agent-{HOST}:***@" in denied.stderr
    assert password not in denied.stdout + denied.stderr
    export = balancer("snapshot", "export", "--redis", users.url("reader"))
    assert export.returncode == 0, export.stderr
    assert f'"name": "{HOST}"' in export.stdout

    wrong = balancer("agent", "--libvirt-uri", uri, "--redis",
                     url.replace(password, "not-" + password), "--once")  # fmt: skip
    assert wrong.returncode == 1
    assert password not in wrong.stdout + wrong.stderr
    assert f"agent-{HOST}:***@" in wrong.stderr


def test_tls_with_env_url(
    tmp_path: Path, redis_server_factory: RedisFactory, agent_processes: AgentFactory
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    files = TlsFiles(tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key")
    ca.cert_pem.write_to_path(str(files.ca))
    cert.cert_chain_pems[0].write_to_path(str(files.cert))
    cert.private_key_pem.write_to_path(str(files.key))
    server = redis_server_factory(tls=files)
    users = apply_acl(server, "kvm-06")
    url = users.url("agent-kvm-06")
    assert url.startswith("rediss://")
    env = {"BALANCER_REDIS_URL": url, "PATH": "/usr/bin:/bin"}
    agent = agent_processes(
        "--libvirt-uri", write_node(tmp_path, "kvm-06", ("f1",)), "--host-name", "kvm-06",
        "--interval", "0.3", env=env,
    )  # fmt: skip
    reader = redis_from_url(users.url("reader"))
    wait_for(lambda: [h.name for h in snapshot_from_redis(reader).hosts] == ["kvm-06"],
             what="a report over TLS")  # fmt: skip
    reader.close()
    assert users.passwords["agent-kvm-06"] not in agent.log()
    assert "rediss://agent-kvm-06:***@127.0.0.1" in agent.log()

    plain = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
    with pytest.raises(redis.ConnectionError):
        plain.ping()  # no plain-text port
    plain.close()
