"""``python -m balancer.bench fleet`` runs end to end on its own redis-server and prints
its JSON (a smoke test: the figures themselves are the benchmark's, not a test's)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.redis


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "balancer.bench", "fleet", *args],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_the_fleet_benchmark_prints_its_rounds() -> None:
    r = bench("--hosts", "7", "--vms-per-host", "3", "--rounds", "2", "--placement", "packed")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["hosts"], out["vms"], out["rounds"]) == (7, 21, 2)
    assert out["reports_per_round"] == 7
    assert 0 < out["round_s"]["median"] <= out["round_s"]["max"]
    assert out["machine"]["cores"] >= 1


def test_bad_benchmark_arguments_exit_2() -> None:
    assert bench("--hosts", "0").returncode == 2
