"""Per-VM load from getAllDomainStats records."""

from __future__ import annotations

import pytest

from workers.agent.domain_stats import cpu_cores_used, parse_stats

RECORD: dict[str, object] = {
    "state.state": 1,
    "state.reason": 1,
    "cpu.time": 12_000_000_000,
    "balloon.current": 2 * 1024 * 1024,
    "balloon.maximum": 4 * 1024 * 1024,
    "balloon.rss": 300 * 1024,
    "vcpu.current": 3,
    "vcpu.maximum": 4,
    "block.count": 2,
    "block.0.name": "vda",
    "block.0.path": "/img/a.qcow2",
    "block.0.capacity": 10 * 2**30,
    "block.1.name": "sda",  # an empty cdrom: no path, no capacity
    "dirtyrate.calc_status": 2,
    "dirtyrate.megabytes_per_second": 21,
    "dirtyrate.calc_start_time": 1_700_000_000,
}


def test_parse_full_record() -> None:
    s = parse_stats(RECORD)
    assert s.state == "running"
    assert s.cpu_time_ns == 12_000_000_000
    assert (s.balloon_kib, s.rss_kib, s.vcpus) == (2 * 1024 * 1024, 300 * 1024, 3)
    assert s.dirty_rate_mib_s == 21.0
    assert s.dirty_rate_started == 1_700_000_000
    assert s.block_capacity == {"vda": 10 * 2**30, "/img/a.qcow2": 10 * 2**30}


def test_dirty_rate_only_when_measured() -> None:
    measuring = {**RECORD, "dirtyrate.calc_status": 1}
    assert parse_stats(measuring).dirty_rate_mib_s is None


def test_state_only_record_as_the_test_driver_gives() -> None:
    s = parse_stats({"state.state": 5, "state.reason": 0})
    assert s.state == "shutoff"
    assert (s.cpu_time_ns, s.balloon_kib, s.vcpus, s.dirty_rate_mib_s) == (None, None, None, None)
    assert s.block_capacity == {}


@pytest.mark.parametrize(
    ("code", "state"),
    [(0, "running"), (1, "running"), (2, "running"), (3, "paused"), (4, "running"),
     (5, "shutoff"), (6, "shutoff"), (7, "paused")],
)  # fmt: skip
def test_state_mapping(code: int, state: str) -> None:
    assert parse_stats({"state.state": code}).state == state


def test_cpu_cores_from_cpu_time_growth() -> None:
    assert cpu_cores_used((1_000_000_000, 100.0), 4_000_000_000, 102.0) == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("previous", "now_ns", "at"),
    [
        (None, 5_000_000_000, 10.0),  # first sight
        ((5_000_000_000, 10.0), None, 12.0),  # no cpu group
        ((5_000_000_000, 10.0), 1_000_000_000, 12.0),  # counter went back: VM restarted
        ((5_000_000_000, 10.0), 6_000_000_000, 10.0),  # no time passed
    ],
)
def test_cpu_cores_unknown_is_zero(
    previous: tuple[int, float] | None, now_ns: int | None, at: float
) -> None:
    assert cpu_cores_used(previous, now_ns, at) == 0.0
