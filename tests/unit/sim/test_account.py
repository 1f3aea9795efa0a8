"""SLATAH, PDM, SLAV, ESV and the host counts on hand-made intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from balancer.control.power import power_tables, watts
from balancer.sim.account import (
    Cluster,
    IntervalFigures,
    TimedMove,
    TimedSwitch,
    account_interval,
)
from balancer.sim.executor import Migration
from balancer.sim.metrics import summarize
from balancer.traces.planetlab import reference_host

HOSTS = tuple(reference_host(i) for i in (1, 3, 5))  # three G5 hosts, 5.32 cores each
CLUSTER = Cluster(cpu=np.full(3, 5.32), memory=np.full(3, 4096.0), tables=power_tables(HOSTS))


def _interval(
    placement: list[int],
    demand: list[float],
    moves: Sequence[TimedMove] = (),
    end_demand: list[float] | None = None,
    switches: Sequence[TimedSwitch] = (),
) -> IntervalFigures:
    d0 = np.array(demand)
    d1 = d0 if end_demand is None else np.array(end_demand)
    return account_interval(
        CLUSTER,
        np.array(placement, dtype=np.int64),
        list(moves),
        (d0, d1),
        300.0,
        cpu_loss=0.1,
        switches=switches,
    )


def test_slatah_is_overloaded_time_over_active_time() -> None:
    # Host 0 holds 6 cores (over its 5.32) in the first interval, 4 in the next two;
    # host 1 holds 1 core all along; host 2 nothing.
    intervals = [
        _interval([0, 0, 1], [3.0, 3.0, 1.0]),
        _interval([0, 0, 1], [2.0, 2.0, 1.0]),
        _interval([0, 0, 1], [2.0, 2.0, 1.0]),
    ]
    assert [f.overloaded_hosts for f in intervals] == [1, 0, 0]
    m = summarize(intervals, [], 0, has_memory=False)
    assert m.slatah == pytest.approx(300.0 / (2 * 900.0))
    assert m.mean_active_hosts == pytest.approx(2.0)
    assert m.pdm == 0.0
    assert m.slav == 0.0


def test_a_migration_ends_the_overload_when_it_lands() -> None:
    # VM 1 (3 cores) leaves overloaded host 0 for host 1 (powered on at the interval's
    # start, in wave 0) from t=10 s to t=40 s.
    move = TimedMove(vm=1, source=0, dest=1, start_s=10.0, end_s=40.0)
    f = _interval([0, 0], [3.0, 3.0], [move], switches=[TimedSwitch(1, True, 0.0)])
    assert f.overloaded_host_s == pytest.approx(40.0)  # until the VM has left
    assert f.active_host_s == pytest.approx(300.0 + 300.0)  # host 1 on from t=0
    assert f.lost_core_s == pytest.approx(0.1 * 3.0 * 30.0)
    assert f.demand_core_s == pytest.approx(6.0 * 300.0)
    assert (f.powered_on, f.powered_off) == (1, 0)
    assert f.peak_active_hosts == 2
    assert f.active_hosts_end == 2
    w = CLUSTER.tables
    expected = (
        float(watts(w[:1], np.array([6.0 / 5.32]))[0]) * 40.0
        + float(watts(w[:1], np.array([3.0 / 5.32]))[0]) * 260.0
        + float(watts(w[1:2], np.array([0.0]))[0]) * 40.0
        + float(watts(w[1:2], np.array([3.0 / 5.32]))[0]) * 260.0
    )
    assert f.energy_j == pytest.approx(expected)


def test_a_host_emptied_by_a_migration_is_off_once_powered_off() -> None:
    move = TimedMove(vm=0, source=0, dest=1, start_s=0.0, end_s=20.0)
    f = _interval([0, 1], [1.0, 1.0], [move], switches=[TimedSwitch(0, False, 20.0)])
    assert (f.powered_on, f.powered_off) == (0, 1)
    assert f.active_host_s == pytest.approx(20.0 + 300.0)
    assert f.active_hosts_end == 1
    # Without the power-off it stays on, idle, for the rest of the interval.
    kept = _interval([0, 1], [1.0, 1.0], [move])
    assert (kept.powered_on, kept.powered_off) == (0, 0)
    assert kept.active_host_s == pytest.approx(300.0 + 300.0)
    assert kept.active_hosts_end == 2
    idle = float(watts(CLUSTER.tables[:1], np.array([0.0]))[0])
    assert kept.energy_j - f.energy_j == pytest.approx(idle * 280.0)


def test_a_host_on_with_no_vm_draws_its_idle_power_and_one_off_nothing() -> None:
    powered = np.array([True, True, False])
    f = account_interval(
        CLUSTER,
        np.array([0], dtype=np.int64),
        [],
        (np.array([1.0]), np.array([1.0])),
        300.0,
        cpu_loss=0.1,
        powered=powered,
    )
    w = CLUSTER.tables
    busy = float(watts(w[:1], np.array([1.0 / 5.32]))[0])
    idle = float(watts(w[1:2], np.array([0.0]))[0])
    assert f.energy_j == pytest.approx((busy + idle) * 300.0)
    assert f.active_host_s == pytest.approx(600.0)
    assert f.active_hosts_end == 2


def test_power_follows_the_demand_between_samples() -> None:
    f = _interval([0], [0.0], end_demand=[5.32])
    assert f.energy_j == pytest.approx((93.7 + 135.0) / 2 * 300.0)


def test_slav_and_esv_compose_slatah_pdm_and_energy() -> None:
    move = TimedMove(vm=1, source=0, dest=1, start_s=0.0, end_s=100.0)
    intervals = [_interval([0, 0], [3.0, 3.0], [move]), _interval([0, 1], [3.0, 3.0])]
    migration = Migration("vm-1", "h0", "h1", 0.0, 100.0, 0.0, 870 * 2**20, "live")
    m = summarize(intervals, [migration], 0, has_memory=False)
    assert m.slatah == pytest.approx(100.0 / (300.0 + 300.0 + 600.0))
    assert m.pdm == pytest.approx(0.1 * 3.0 * 100.0 / (6.0 * 600.0))
    assert m.slav == pytest.approx(m.slatah * m.pdm)
    assert m.esv == pytest.approx(m.energy_kwh * m.slav)
    assert m.migrations == 1
    assert m.migration_time_total_s == 100.0
    assert m.migrated_gib == pytest.approx(870 / 1024)
