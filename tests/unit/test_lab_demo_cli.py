"""`balancer lab demo` without root says so and fails before it starts anything; an
agent's declared power draw (`--power-w`) is checked at the door."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from balancer.cli.agent_cmd import parse_power
from balancer.cli.main import main
from balancer.core.models import Power


def test_the_lab_demo_without_root_says_so_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    started: list[object] = []
    monkeypatch.setattr("balancer.demo.lab_system.start_redis", lambda *a: started.append(a))
    result = CliRunner().invoke(main, ["lab", "demo", "--json"])
    assert result.exit_code == 1, (result.output, result.exception)
    assert "not running as root" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert started == []  # nothing was started


@pytest.mark.parametrize("bad", ["100", "x:250", "250:100", "-1:5"])
def test_a_bad_power_draw_is_refused_with_exit_2(bad: str) -> None:
    result = CliRunner().invoke(main, ["agent", "--libvirt-uri", "qemu:///system",
                                       "--power-w", bad, "--once"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--power-w" in result.stderr
    assert "IDLE" in result.stderr


def test_a_power_draw_is_idle_and_max_watts() -> None:
    assert parse_power("100:250") == Power(idle_w=100.0, max_w=250.0)
    assert parse_power(None) is None
