"""``python -m balancer.bench ingest`` end to end, small: its own redis-server, simulated
agents in two processes, snapshots read under their load; the JSON has what the issue
asks, and the executor's facts reach the snapshot as designed (the migrations of the
cool-down window only; the measures through the agents' reports). Timing is the
benchmark's business, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.redis

REQUIRED = ("reports_per_s", "target_reports_per_s", "sustained", "redis_cpu_percent",
            "redis_memory_mib", "snapshot_seconds")  # fmt: skip


def test_small_ingest_run_prints_the_figures() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "balancer.bench", "ingest", "--hosts", "40", "--vms-per-host",
         "5", "--interval", "1", "--duration", "3", "--snapshots", "2",
         "--moved-fraction", "0.4", "--moved-within", "7200"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert all(key in result for key in REQUIRED)
    assert result["target_reports_per_s"] == 40.0
    assert result["reports"] == 120  # every host, every second, for 3 s
    assert result["sustained"] is True
    assert (result["snapshot_hosts"], result["snapshot_vms"]) == (40, 200)
    assert result["vms_with_executor_facts"] == 80  # 2 of each host's 5
    # Spread over two hours, about half migrated within the default one-hour cool-down.
    assert 36 <= result["snapshot_vms_in_cooldown"] <= 44
    assert result["snapshot_vms_with_resident_mib"] == 80  # every measure, via the reports
    assert 0 < result["report_bytes"] < 4096  # compressed
    assert result["agents_cpu_percent"] > 0
    assert result["agents_nice"] == 10  # stand-ins for agents on other machines
    assert result["snapshot_seconds"] > 0


def test_read_only_side_by_side(tmp_path: Path) -> None:
    """--read-only --compare: every side reads the whole store, in turn; here the other
    side is this checkout again (any checkout of the repository would do)."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "balancer.bench", "ingest", "--read-only", "--hosts", "30",
         "--vms-per-host", "4", "--rounds", "3", "--compare", str(root)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["loop_10m_s"] > 0
    sides = [result["this"], *result["compare"]]
    assert len(sides) == 2
    for side in sides:
        assert (side["hosts"], side["vms"]) == (30, 120)
        assert len(side["times_s"]) == len(side["cpu_s"]) == 3
        assert side["median_s"] in side["times_s"]


def test_bad_arguments_exit_2() -> None:
    for bad in (["--moved-fraction", "1.5"], ["--moved-within", "0"], ["--agents-nice", "20"],
                ["--compare", "."]):  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-m", "balancer.bench", "ingest", *bad],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert out.returncode == 2
        assert any(w in out.stderr for w in ("must be", "invalid choice", "needs --read-only"))
