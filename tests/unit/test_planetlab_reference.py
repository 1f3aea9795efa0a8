"""The one-shot consolidation of the PlanetLab reference cluster (issue 2's target):
20110303 step 0, cpu+memory, headroom 0 → the optimum of 329 hosts in ≤ 600 migrations
(OpenStack Watcher: 338 hosts, 611 migrations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancer.core.planner import plan
from balancer.core.verify import violations
from balancer.traces.paths import shared_data_dir
from balancer.traces.planetlab import load_day, reference_snapshot, vm_type

DAY = shared_data_dir() / "planetlab" / "20110303"


@pytest.fixture(scope="module")
def day_present() -> Path:
    assert DAY.is_dir(), f"the shared traces are missing: {DAY}"
    return DAY


def test_reference_vm_types(day_present: Path) -> None:
    names, cpu = load_day(day_present)
    assert len(names) == 1052
    assert cpu.shape == (1052, 288)
    assert [vm_type(j, 1052).memory_mib for j in (0, 262, 263, 526, 788, 789, 1051)] == [
        870,
        870,
        1740,
        1740,
        1740,
        613,
        613,
    ]


def test_consolidation_reaches_the_optimum(day_present: Path) -> None:
    snap = reference_snapshot(day_present, 0, "cpu+memory", headroom=0.0)
    result = plan(snap)
    assert result.summary.active_hosts_before == 800
    assert result.summary.active_hosts_after == 329
    assert result.summary.migrations <= 600
    assert violations(snap, snap.policy, result) == []
