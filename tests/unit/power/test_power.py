"""Power drivers and the guarded power actions."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import fakeredis
import pytest

from balancer.errors import InputError, PowerRefusedError
from balancer.state.keys import Keys
from workers.executor.simulated import SimClock, SimulatedHypervisor
from workers.power import actions
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


def test_power_off_refused_while_a_domain_exists() -> None:
    hv = SimulatedHypervisor(clock=SimClock().now)
    hv.add("h1", "vm1")
    driver = Recording()
    with pytest.raises(PowerRefusedError, match="vm1"):
        actions.power_off("h1", driver, hv)
    assert driver.calls == []
    actions.power_off("h2", driver, hv)  # no domain there
    assert driver.calls == ["off"]


def test_power_on_waits_for_the_heartbeat_or_fails() -> None:
    clock, client, keys = SimClock(), fakeredis.FakeRedis(), Keys()
    driver = Recording()
    with pytest.raises(PowerRefusedError, match="heartbeat"):
        actions.power_on("h1", driver, client, keys, timeout_s=30, clock=clock.now,
                         sleep=clock.sleep)  # fmt: skip
    assert driver.calls == ["on"]
    started = clock.now()

    def beat_later(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now() - started >= 5:
            client.set(keys.alive("h1"), "1", ex=30)

    actions.power_on("h1", driver, client, keys, timeout_s=30, clock=clock.now, sleep=beat_later)
    assert 5 <= clock.now() - started < 7


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
    with pytest.raises(InputError, match="unknown power driver"):
        build({"kind": "telnet"})
