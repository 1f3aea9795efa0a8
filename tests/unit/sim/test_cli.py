"""``balancer sim run`` and ``balancer sim compare`` on one hour of PlanetLab 20110303."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from balancer.cli.main import main
from tests.unit.sim.factories import day_dir


def test_run_writes_json_placements_and_a_plot(tmp_path: Path) -> None:
    placements, png = tmp_path / "steps.jsonl", tmp_path / "run.png"
    args = ["sim", "run", "--trace", str(day_dir()), "--hours", "1", "--json"]
    args += ["--placements-out", str(placements), "--plot", str(png)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["trace"] == {"kind": "planetlab", "source": str(day_dir()), "vms": 1052}
    assert doc["hosts"] == 800
    assert doc["config"]["capacity_mode"] == "cpu-only"
    m = doc["metrics"]
    assert m["intervals"] == 12
    assert m["slav"] == m["slatah"] * m["pdm"]
    lines = [json.loads(line) for line in placements.read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(12))
    assert sum(len(r["migrations"]) for r in lines) == m["migrations"]
    assert all(h.startswith("host-") for r in lines for h in r["active_hosts"])
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < 200_000


def test_run_prints_the_figures() -> None:
    result = CliRunner().invoke(main, ["sim", "run", "--trace", str(day_dir()), "--hours", "0.5"])
    assert result.exit_code == 0, result.output
    for word in ("energy", "SLATAH", "PDM", "SLAV", "ESV", "migrations", "hosts"):
        assert word in result.output


def test_compare_prints_ours_beside_the_reference() -> None:
    args = ["sim", "compare", "--trace", str(day_dir()), "--hours", "0.5"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "LR-MMT-1.2" in result.output
    assert "167.83" in result.output
    assert "kvm-balancer (20110303)" in result.output
    assert "targets set for 20110303" in result.output
    assert "162.16" in result.output  # the 10-day median


def test_bad_input_exits_2(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["sim", "run", "--trace", str(tmp_path / "none")])
    assert missing.exit_code == 2
    assert "error: no trace" in missing.output
    config = tmp_path / "config.json"
    config.write_text('{"control": {"pack_to": 1.5}}')
    args = ["sim", "run", "--trace", str(day_dir()), "--config", str(config)]
    bad = CliRunner().invoke(main, args)
    assert bad.exit_code == 2
    assert "pack_to" in bad.output
