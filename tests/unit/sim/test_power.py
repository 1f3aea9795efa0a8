"""Host power from the tables, and energy integrated the reference's way."""

from __future__ import annotations

import numpy as np
import pytest

from balancer.control.power import power_table, power_tables, trapezoid_joules, watts
from balancer.core.models import Power
from balancer.sim.account import Cluster, account_interval
from balancer.sim.metrics import summarize
from balancer.traces.planetlab import reference_host
from tests.unit.core.factories import host

G4, G5 = reference_host(0), reference_host(1)


@pytest.mark.parametrize(
    ("util", "g4", "g5"),
    [
        (0.0, 86.0, 93.7),
        (0.1, 89.4, 97.0),
        (0.05, 87.7, 95.35),
        (0.95, 115.5, 134.0),
        (1.0, 117.0, 135.0),
        (1.4, 117.0, 135.0),  # overloaded hosts draw their full-load figure
    ],
)
def test_watts_are_linear_between_table_points(util: float, g4: float, g5: float) -> None:
    got = watts(power_tables((G4, G5)), np.array([util, util]))
    assert got == pytest.approx([g4, g5])


def test_idle_and_max_make_a_straight_line() -> None:
    h = host("h", power=Power(idle_w=100.0, max_w=200.0))
    assert power_table(h)[5] == pytest.approx(150.0)
    assert power_table(host("nothing-known", power=None)) == (0.0,) * 11


def test_trapezoid_averages_the_power_at_both_ends() -> None:
    joules = trapezoid_joules(power_tables((G5,)), np.array([0.0]), np.array([1.0]), 300.0)
    assert joules == pytest.approx([(93.7 + 135.0) / 2 * 300.0])


def _reference_cluster(n: int) -> Cluster:
    hosts = tuple(reference_host(i) for i in range(n))
    return Cluster(
        cpu=np.array([h.cpu_capacity_cores for h in hosts]),
        memory=np.array([float(h.memory_mib) for h in hosts]),
        tables=power_tables(hosts),
    )


def test_no_power_management_all_day_is_the_reference_figure() -> None:
    """800 hosts at full power for the 287 intervals of a day: 2410.80 kWh."""
    cluster = _reference_cluster(800)
    placement = np.arange(800, dtype=np.int64)  # one VM per host, asking all its CPU
    full = cluster.cpu.copy()
    figures = [
        account_interval(cluster, placement, [], (full, full), 300.0, cpu_loss=0.1)
        for _ in range(287)
    ]
    m = summarize(figures, [], 0, has_memory=False)
    assert round(m.energy_kwh, 2) == 2410.80
    assert m.mean_active_hosts == 800
    assert m.slatah == 0.0  # at capacity, not over it


def test_a_host_without_vm_is_off() -> None:
    cluster = _reference_cluster(2)
    demand = np.array([1.0, 2.0])
    both_on_host_1 = np.array([1, 1], dtype=np.int64)
    f = account_interval(cluster, both_on_host_1, [], (demand, demand), 300.0, cpu_loss=0.1)
    g5 = float(watts(cluster.tables[1:], np.array([3.0 / 5.32]))[0])
    assert f.energy_j == pytest.approx(g5 * 300.0)
    assert f.active_host_s == 300.0
    assert f.active_hosts_end == 1
