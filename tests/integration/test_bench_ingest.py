"""``python -m balancer.bench ingest`` end to end, small: its own redis-server, simulated
agents in two processes, snapshots read under their load; the JSON has what the issue
asks, and the executor's facts reach the snapshot as designed (the migrations of the
cool-down window only; the measures through the agents' reports). Timing is the
benchmark's business, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_bad_arguments_exit_2() -> None:
    for bad in (["--moved-fraction", "1.5"], ["--moved-within", "0"], ["--agents-nice", "20"]):
        out = subprocess.run(
            [sys.executable, "-m", "balancer.bench", "ingest", *bad],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert out.returncode == 2
        assert "must be" in out.stderr or "invalid choice" in out.stderr
