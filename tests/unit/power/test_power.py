"""Power drivers and the guarded power actions."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import fakeredis
import pytest

from balancer.errors import InputError, PowerRefusedError
from balancer.lab.power import LabPower
from balancer.state.keys import Keys
from balancer.state.migrations import plan_results
from workers.executor.fence import Fence
from workers.executor.order import PowerOrder, decode_power
from workers.executor.simulated import SimClock, SimulatedHypervisor
from workers.power import actions
from workers.power.actions import PowerDeps, power_records
from workers.power.driver import PowerDriver
from workers.power.ipmi import Ipmi
from workers.power.registry import build
from workers.power.wol import WakeOnLan, magic_packet


class Recording:
    NAME = "recording"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def power_on(self) -> None:
        self.calls.append("on")

    def power_off(self) -> None:
        self.calls.append("off")


def test_wake_on_lan_packet_is_seen_on_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(10)
        port = rx.getsockname()[1]
        WakeOnLan("52:54:00:ab:cd:ef", broadcast="127.0.0.1", port=port).power_on()
        data, _ = rx.recvfrom(1024)
    assert data == b"\xff" * 6 + bytes.fromhex("525400abcdef") * 16
    assert len(data) == 102


def test_magic_packet_rejects_a_bad_mac() -> None:
    with pytest.raises(InputError):
        magic_packet("52:54:00:ab:cd")


class Power:
    """A worker's power actions on fakeredis, a simulated clock and a recording driver."""

    def __init__(self, epoch: int = 4) -> None:
        self.clock, self.client, self.keys = SimClock(), fakeredis.FakeRedis(), Keys()
        self.client.set(self.keys.epoch, epoch)
        self.driver = Recording()
        self.deps = PowerDeps(self.client, self.keys, Fence(self.client), self.clock.now,
                              self.clock.sleep)  # fmt: skip

    def drivers(self, host: str) -> PowerDriver:
        if host == "unknown":
            raise PowerRefusedError(f"no power driver configured for {host} on this worker")
        return self.driver

    def state(self, host: str) -> dict[str, object] | None:
        raw = self.client.hget(self.keys.power, host)
        return None if raw is None else dict(json.loads(raw))

    def results(self) -> list[tuple[str, str, str]]:
        return [(r.host, r.action, r.result) for r in power_records(self.client, self.keys)]


def power(host: str, action: str, epoch: int | None = 4) -> PowerOrder:
    return decode_power({"id": f"{action}-{host}", "plan_id": "p1", "epoch": epoch,
                         "host": host, "action": action, "reason": "idle"})  # fmt: skip


def test_power_off_refused_while_a_domain_exists() -> None:
    p = Power()
    hv = SimulatedHypervisor(clock=p.clock.now)
    hv.add("h1", "vm1")
    with pytest.raises(PowerRefusedError, match="vm1"):
        actions.power_off(power("h1", "off"), p.drivers, hv, p.deps, "t1")
    assert p.driver.calls == []
    assert p.state("h1") is None
    assert actions.power_off(power("h2", "off"), p.drivers, hv, p.deps, "t2") == "completed"
    assert p.driver.calls == ["off"]
    assert p.state("h2") == {"state": "off", "at": p.clock.now(), "epoch": 4}
    assert p.results() == [("h1", "off", "failed"), ("h2", "off", "completed")]
    assert plan_results(p.client, p.keys, "p1") == {"off-h1": "failed", "off-h2": "completed"}
    assert p.client.get(p.keys.power_lease("h2")) is None  # released


def test_a_stale_power_order_is_fenced_and_the_driver_never_called() -> None:
    p = Power(epoch=5)
    hv = SimulatedHypervisor(clock=p.clock.now)
    assert actions.power_off(power("h1", "off", epoch=4), p.drivers, hv, p.deps, "t1") == "fenced"
    on = actions.power_on(power("h2", "on", epoch=4), p.drivers, p.deps, "t2", timeout_s=30)
    assert on == "fenced"
    assert p.driver.calls == []
    assert (p.state("h1"), p.state("h2")) == (None, None)
    assert p.results() == [("h1", "off", "fenced"), ("h2", "on", "fenced")]
    Fence(p.client).cancel(["p1"])
    assert actions.power_off(power("h1", "off", epoch=5), p.drivers, hv, p.deps, "t3") == (
        "cancelled"
    )
    assert p.driver.calls == []


def test_a_host_without_a_driver_on_this_worker_fails_recorded() -> None:
    p = Power()
    hv = SimulatedHypervisor(clock=p.clock.now)
    with pytest.raises(PowerRefusedError, match="no power driver"):
        actions.power_off(power("unknown", "off"), p.drivers, hv, p.deps, "t1")
    assert p.results() == [("unknown", "off", "failed")]


def test_power_on_records_booting_and_waits_for_the_heartbeat_or_fails() -> None:
    p = Power()
    with pytest.raises(PowerRefusedError, match="heartbeat"):
        actions.power_on(power("h1", "on"), p.drivers, p.deps, "t1", timeout_s=30)
    assert p.driver.calls == ["on"]
    assert p.state("h1") == {"state": "booting", "at": 1000.0, "epoch": 4}
    started = p.clock.now()

    def beat_later(seconds: float) -> None:
        p.clock.sleep(seconds)
        if p.clock.now() - started >= 5:
            p.client.set(p.keys.alive("h1"), "1", ex=30)

    deps = PowerDeps(p.client, p.keys, p.deps.fence, p.clock.now, beat_later)
    assert actions.power_on(power("h1", "on"), p.drivers, deps, "t2", timeout_s=30) == ("completed")
    assert 5 <= p.clock.now() - started < 7
    assert p.results() == [("h1", "on", "failed"), ("h1", "on", "completed")]


def test_ipmi_runs_an_argument_list_with_the_password_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "ipmitool"
    out = tmp_path / "out"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {out}\necho "$IPMI_PASSWORD" >> {out}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setenv("BMC_PW", "s3cret; rm -rf /")
    Ipmi("10.0.0.5", "admin", password_env="BMC_PW").power_on()
    lines = out.read_text().splitlines()
    assert lines[:-1] == ["-I", "lanplus", "-H", "10.0.0.5", "-U", "admin", "-E",
                          "chassis", "power", "on"]  # fmt: skip
    assert lines[-1] == "s3cret; rm -rf /"


def test_registry_builds_drivers_and_rejects_unknown_kinds() -> None:
    assert isinstance(build({"kind": "wol", "mac": "52:54:00:00:00:01"}), WakeOnLan)
    lab = build({"kind": "lab", "lab": "/var/lib/kvm-balancer-lab/x", "host": "lab-a"})
    assert lab == LabPower(Path("/var/lib/kvm-balancer-lab/x"), "lab-a")
    with pytest.raises(InputError, match="unknown power driver"):
        build({"kind": "telnet"})
