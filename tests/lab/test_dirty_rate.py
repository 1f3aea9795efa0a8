"""The dirty rate libvirt measures matches the rate the guest was told to write."""

from __future__ import annotations

import statistics

import pytest

from balancer.lab.console import last_tick
from balancer.lab.probes import dirty_rate
from balancer.lab.pytest_plugin import BUSY_RATE_MIB_S, BUSY_WORKING_SET_MIB, BusyGuest

pytestmark = pytest.mark.lab
PERIOD_S = 6
PAGES_PER_MIB = 256


def test_dirty_rate_calc_is_within_30_percent(lab_busy_guest: BusyGuest) -> None:
    scene = lab_busy_guest
    # The guest writes distinct pages in a cycle, so a period must not wrap around the
    # working set; page sampling (512 pages/GiB) is noisy, so average three periods.
    assert BUSY_RATE_MIB_S * PERIOD_S < BUSY_WORKING_SET_MIB
    dom, conn = scene.domain(), scene.lab.conn("lab-a")
    first = last_tick(scene.guest.console_log)
    rates = [dirty_rate(conn, dom, PERIOD_S) for _ in range(3)]
    last = last_tick(scene.guest.console_log)

    assert first is not None
    assert last is not None
    written = (last.pages - first.pages) / PAGES_PER_MIB  # the guest's own account
    measured = statistics.mean(rates)
    detail = f"measured {rates} MiB/s, guest wrote {written:.0f} MiB in ~{3 * PERIOD_S}s"
    assert abs(measured - BUSY_RATE_MIB_S) <= 0.3 * BUSY_RATE_MIB_S, detail
