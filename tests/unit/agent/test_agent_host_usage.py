"""Host load from psutil counters."""

from __future__ import annotations

import time

import pytest

from workers.agent.host_usage import Counters, read_counters, usage_between


def _c(at: float, busy: float, total: float, rx: int = 0, tx: int = 0) -> Counters:
    return Counters(at, 4, busy, total, 8192, 4096, (1.0, 0.5, 0.2), rx, tx)


def test_busy_cores_and_nic_rates_between_two_samples() -> None:
    u = usage_between(_c(100.0, 50.0, 400.0, 1000, 0), _c(110.0, 70.0, 440.0, 11000, 5000))
    assert u.cpu_used == pytest.approx(20 / 40 * 4)
    assert u.nic_rx_bytes_s == pytest.approx(1000.0)
    assert u.nic_tx_bytes_s == pytest.approx(500.0)
    assert (u.memory_total_mib, u.memory_used_mib, u.load_avg) == (8192, 4096, (1.0, 0.5, 0.2))


def test_first_sample_measures_since_boot() -> None:
    u = usage_between(None, _c(5.0, 10.0, 40.0, 999, 999))
    assert u.cpu_used == pytest.approx(1.0)
    assert (u.nic_rx_bytes_s, u.nic_tx_bytes_s) == (0.0, 0.0)


def test_counter_reset_does_not_go_negative() -> None:
    u = usage_between(_c(0.0, 50.0, 100.0, 5000, 5000), _c(10.0, 10.0, 20.0, 10, 10))
    assert u.cpu_used == 0.0
    assert (u.nic_rx_bytes_s, u.nic_tx_bytes_s) == (0.0, 0.0)


def test_real_counters_are_plausible() -> None:
    a = read_counters(time.time())
    assert a.cores >= 1
    assert 0 < a.memory_used_mib < a.memory_total_mib
    assert 0 <= a.cpu_busy_s <= a.cpu_total_s
    u = usage_between(a, read_counters(a.at + 0.5))
    assert 0.0 <= u.cpu_used <= a.cores
