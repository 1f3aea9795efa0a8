"""The agent loop survives libvirt and Redis going away, and never logs a password."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import fakeredis
import libvirt
import pytest

from balancer.bench.fake_node import domain_xml, node_xml
from balancer.errors import InputError, RetryableError
from balancer.state.keys import Keys
from balancer.state.snapshot_read import snapshot_from_redis
from workers.agent.collector import Collector, CollectorConfig
from workers.agent.connection import open_connection
from workers.agent.runner import Agent, AgentOptions

KEYS = Keys("kvmb")
PASSWORD = "pa55-w0rd-xyz"
URL = f"redis://agent:{PASSWORD}@127.0.0.1:1/0"


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def node(tmp_path: Path) -> Path:
    path = tmp_path / "node.xml"
    path.write_text(node_xml([domain_xml("vm-a"), domain_xml("vm-b")]))
    return path


def _options(node: Path, **kw: Any) -> AgentOptions:
    base: dict[str, Any] = {
        "libvirt_uri": f"test://{node}",
        "redis_url": URL,
        "host_name": "kvm-07",
        "interval_s": 0.05,
        "ttl_s": 5.0,
        "warmup_s": 0.01,
        "backoff_cap_s": 0.1,
    }
    base.update(kw)
    return AgentOptions(**base)


class Running:
    """An agent loop in a thread, stopped and joined at the end."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.stop = threading.Event()
        self.thread = threading.Thread(target=agent.run, args=(self.stop,))

    def __enter__(self) -> Agent:
        self.thread.start()
        return self.agent

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        self.agent.close()


def _lost(message: str = "connection reset") -> libvirt.libvirtError:
    exc = libvirt.libvirtError(message)
    exc.err = (libvirt.VIR_ERR_SYSTEM_ERROR, 0, message, 2, None, None, None, 0, 0)
    return exc


def test_session_uri_is_refused(node: Path, client: fakeredis.FakeRedis) -> None:
    with pytest.raises(InputError, match="session"):
        Agent(_options(node, libvirt_uri="qemu:///session"), client=client)
    with pytest.raises(InputError, match="session"):
        Agent(_options(node, libvirt_uri="qemu+ssh://h/session?keyfile=k"), client=client)


def test_run_once_publishes_one_report(node: Path, client: fakeredis.FakeRedis) -> None:
    agent = Agent(_options(node), client=client)
    report = agent.run_once()
    assert report.host.name == "kvm-07"
    assert {v.name for v in report.vms} == {"vm-a", "vm-b"}
    assert agent.generation == 1
    snap = snapshot_from_redis(client, keys=KEYS)
    assert [h.name for h in snap.hosts] == ["kvm-07"]
    assert client.get(KEYS.schema) == b"1"


def test_reports_carry_the_executors_measures(node: Path, client: fakeredis.FakeRedis) -> None:
    """The first report reads the host's measures; each publish brings them back for the
    next, so a migration's measure is in the report after the one that follows it."""
    client.hset(KEYS.vm_resident("kvm-07"), mapping={"vm-a": "300.5", "gone": "9"})
    first = Agent(_options(node), client=client).run_once()
    assert {v.name: v.resident_mib for v in first.vms} == {"vm-a": 300.5, "vm-b": None}
    with Running(Agent(_options(node), client=client)) as agent:
        wait_for(lambda: agent.published >= 1)
        client.hset(KEYS.vm_resident("kvm-07"), "vm-b", "64")  # vm-b just moved in
        seen = agent.published
        wait_for(lambda: agent.published >= seen + 2)
    vms = {v.name: v.resident_mib for v in snapshot_from_redis(client, keys=KEYS).vms}
    assert vms == {"vm-a": 300.5, "vm-b": 64.0}


def test_run_once_fails_cleanly_when_redis_is_down(
    node: Path, server: fakeredis.FakeServer, client: fakeredis.FakeRedis
) -> None:
    server.connected = False
    agent = Agent(_options(node), client=client)
    with pytest.raises(RetryableError) as err:
        agent.run_once()
    assert PASSWORD not in str(err.value)
    assert "agent:***@" in str(err.value)


def test_loop_retries_libvirt_until_it_comes_up(
    node: Path, client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = []

    def flaky_open(uri: str) -> libvirt.virConnect:
        attempts.append(uri)
        if len(attempts) < 3:
            raise RetryableError(f"cannot connect to {uri}: daemon not running")
        return open_connection(uri)

    caplog.set_level(logging.INFO)
    with Running(Agent(_options(node), client=client, open_libvirt=flaky_open)) as agent:
        wait_for(lambda: agent.published >= 2)
    assert len(attempts) == 3
    assert caplog.text.count("no report: libvirt unavailable") == 2
    assert PASSWORD not in caplog.text
    assert "redis://agent:***@127.0.0.1:1/0" in caplog.text


class _DropsOnce:
    """A connection whose stats call fails once as if the daemon restarted."""

    def __init__(self, conn: libvirt.virConnect, fail: list[BaseException]) -> None:
        self._conn = conn
        self._fail = fail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def getAllDomainStats(self, stats: int, flags: int) -> Any:
        if self._fail:
            raise self._fail.pop()
        return self._conn.getAllDomainStats(stats, flags)


def test_loop_reconnects_after_libvirt_connection_loss(
    node: Path, client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    opened: list[libvirt.virConnect] = []
    failures: list[BaseException] = []

    def opener(uri: str) -> libvirt.virConnect:
        conn = open_connection(uri)
        opened.append(conn)
        return cast(libvirt.virConnect, _DropsOnce(conn, failures))

    with Running(Agent(_options(node), client=client, open_libvirt=opener)) as agent:
        wait_for(lambda: agent.published >= 1)
        failures.append(_lost())
        wait_for(lambda: len(opened) == 2 and agent.published >= 3)
    assert "libvirt connection lost (connection reset); reconnecting" in caplog.text


def test_loop_survives_a_redis_outage(
    node: Path, server: fakeredis.FakeServer, client: fakeredis.FakeRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    with Running(Agent(_options(node), client=client)) as agent:
        wait_for(lambda: agent.published >= 1)
        server.connected = False
        wait_for(lambda: "not published" in caplog.text)
        down_at = agent.published
        time.sleep(0.2)
        assert agent.published == down_at
        server.connected = True
        wait_for(lambda: agent.published >= down_at + 2)
    assert PASSWORD not in caplog.text


def test_loop_outlives_a_bug_and_says_so(
    node: Path, client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []

    class Buggy(Collector):
        def collect(self) -> Any:
            calls.append(1)
            if len(calls) == 3:
                raise ZeroDivisionError("a bug")
            return super().collect()

    def factory(config: CollectorConfig) -> Collector:
        return Buggy(config)

    with Running(Agent(_options(node), client=client, collector_factory=factory)) as agent:
        wait_for(lambda: len(calls) >= 5 and agent.published >= 2)
    assert "agent cycle failed unexpectedly" in caplog.text
    assert "ZeroDivisionError: a bug" in caplog.text


def test_stop_is_prompt_even_with_long_intervals(node: Path, client: fakeredis.FakeRedis) -> None:
    running = Running(Agent(_options(node, interval_s=3600.0), client=client))
    with running as agent:
        wait_for(lambda: agent.published >= 1)
        started = time.monotonic()
    assert time.monotonic() - started < 5
