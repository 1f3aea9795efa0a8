"""The pre-copy model against the worked examples of ../shared/data/README.md, and the
mode choice of the guide (12.1, 12.8.1)."""

from __future__ import annotations

import math

import pytest

from balancer.core.migration_model import estimate, precopy, warnings_for
from balancer.core.models import Disk, Policy
from tests.unit.core.factories import host, vm


@pytest.mark.parametrize(
    ("dirty", "rounds", "seconds", "downtime_ms"),
    [
        (32.0, 4, 42.6, 125.0),  # 4 GiB at 32 MiB/s → 4 rounds, 42.6 s, 125 ms
        (96.0, 17, 127.3, 241.0),  # 4 GiB at 96 MiB/s → 17 rounds, 127 s, 241 ms
    ],
)
def test_readme_examples(dirty: float, rounds: int, seconds: float, downtime_ms: float) -> None:
    r = precopy(4096, dirty, 128.0, 300.0, max_rounds=100)
    assert r.converges
    assert r.rounds == rounds
    assert r.duration_s == pytest.approx(seconds, abs=0.1)
    assert r.downtime_s * 1000 == pytest.approx(downtime_ms, abs=1.0)


def test_closed_form_total_time() -> None:
    m, d, b = 4096.0, 32.0, 128.0
    lam = d / b
    n = math.ceil(math.log(b * 0.3 / m) / math.log(lam))
    r = precopy(m, d, b, 300.0)
    assert r.rounds == n
    assert r.duration_s == pytest.approx((m / b) * (1 - lam ** (n + 1)) / (1 - lam))
    assert r.sent_mib == pytest.approx(m * (1 - lam ** (n + 1)) / (1 - lam))


def test_dirtier_than_bandwidth_never_converges() -> None:
    r = precopy(4096, 160.0, 128.0, 300.0)  # 160 MiB/s → never converges
    assert not r.converges
    assert math.isinf(r.duration_s)


def test_small_working_set_converges_even_when_dirty_rate_exceeds_bandwidth() -> None:
    assert not precopy(4096, 200.0, 128.0, 300.0).converges
    r = precopy(4096, 200.0, 128.0, 300.0, working_set_mib=16.0)
    assert r.converges
    assert r.downtime_s <= 0.3


def test_idle_guest_is_one_pass() -> None:
    r = precopy(1024, 0.0, 128.0, 300.0)
    assert r.converges
    assert r.duration_s == pytest.approx(8.0)
    assert r.downtime_s == 0.0


def test_rejects_zero_bandwidth() -> None:
    with pytest.raises(ValueError, match="bandwidth"):
        precopy(1024, 0.0, 0.0, 300.0)


A, B = host("a"), host("b")


def test_converging_guest_goes_live() -> None:
    e = estimate(vm("v", "a", memory_mib=4096, dirty_rate_mib_s=32.0), A, B, Policy())
    assert e.mode == "live"
    assert e.downtime_ms <= 300
    assert e.bytes == pytest.approx(5456 * 1024 * 1024)


def test_non_converging_guest_goes_postcopy_when_allowed() -> None:
    guest = vm("v", "a", memory_mib=4096, dirty_rate_mib_s=400.0)
    assert estimate(guest, A, B, Policy(allow_postcopy=True)).mode == "live-postcopy"


def test_critical_guest_never_postcopy() -> None:
    guest = vm("v", "a", memory_mib=4096, dirty_rate_mib_s=400.0, critical=True)
    e = estimate(guest, A, B, Policy(allow_postcopy=True))
    assert e.mode == "non-live"
    assert e.downtime_ms == pytest.approx(32_000)
    assert warnings_for(guest, e)


def test_non_converging_without_postcopy_suspends() -> None:
    guest = vm("v", "a", memory_mib=4096, dirty_rate_mib_s=400.0)
    assert estimate(guest, A, B, Policy(allow_postcopy=False)).mode == "non-live"


def test_paused_guest_moves_non_live() -> None:
    assert estimate(vm("v", "a", state="paused"), A, B, Policy()).mode == "non-live"


def test_shutoff_guest_moves_offline_copying_unshared_disks() -> None:
    disks = (
        Disk(pool="local", shared=False, bytes=2 << 30),
        Disk(pool="s", shared=True, bytes=9 << 30),
    )
    e = estimate(vm("v", "a", state="shutoff", disks=disks), A, B, Policy())
    assert e.mode == "offline"
    assert e.bytes == 2 << 30
    assert e.downtime_ms == 0
    assert e.duration_s == pytest.approx(2048 / 128)


def test_bandwidth_is_the_slower_link_capped_by_policy() -> None:
    slow = host("slow", migration_bandwidth_mib_s=64.0)
    guest = vm("v", "a", memory_mib=1024, dirty_rate_mib_s=0.0)
    assert estimate(guest, A, slow, Policy()).duration_s == pytest.approx(16.0)
    assert estimate(guest, A, B, Policy(bandwidth_mib_s=32.0)).duration_s == pytest.approx(32.0)


def test_huge_memory_is_flagged() -> None:
    guest = vm("v", "a", memory_mib=2 * 1024 * 1024, dirty_rate_mib_s=0.0)
    e = estimate(guest, A, B, Policy())
    assert any("1 TiB" in w for w in warnings_for(guest, e))
