"""The deployment files work as written: systemd accepts the units, each ``ExecStart``
uses options its command has, the example settings decode, promtool accepts the scrape
configuration (with the rules it names)."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from balancer.cli.daemon_cmd import _settings
from balancer.cli.main import main
from tests.unit.metrics.test_alert_rules import promtool

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED = "/opt/kvm-balancer/bin/balancer"


def test_there_is_a_unit_for_each_component() -> None:
    assert [u.stem for u in UNITS] == [
        "kvm-balancer-agent", "kvm-balancer-daemon", "kvm-balancer-exporter",
        "kvm-balancer-worker",
    ]  # fmt: skip


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.stem)
def test_exec_start_uses_real_options(path: Path) -> None:
    service = _unit(path)["Service"]
    assert service["Restart"] == "always"
    assert service["EnvironmentFile"].startswith("/etc/kvm-balancer/")
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == INSTALLED
    command = main.commands[argv[1]]
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for arg in argv[2:]:
        if arg.startswith("--"):
            assert arg in known, f"{path.name}: {argv[1]} has no option {arg}"
    ctx = command.make_context(argv[1], argv[2:], resilient_parsing=False)
    assert isinstance(ctx, click.Context)


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze (Debian's systemd package) is missing"
    here = Path(sys.executable).with_name("balancer")
    assert here.exists(), here
    copies = []
    for unit in UNITS:  # verify checks that the program exists: point it at this one
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace(INSTALLED, str(here)))
        copies.append(str(copy))
    run = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "", run.stderr


def test_the_example_settings_decode() -> None:
    settings = _settings(str(DEPLOY / "settings.example.json"))
    assert settings.sample_every_s == 60.0


def test_promtool_accepts_the_scrape_configuration() -> None:
    run = subprocess.run([promtool(), "check", "config", str(DEPLOY / "prometheus/prometheus.yml")],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 rule files found" in run.stdout
