"""Zero pages: round 0 of pre-copy sends the guest's non-zero memory when it is known."""

from __future__ import annotations

import pytest

from balancer.core.migration_model import estimate, first_pass_mib, precopy
from balancer.core.models import Policy
from tests.unit.core.factories import host, vm


def test_unknown_resident_memory_keeps_the_full_first_pass() -> None:
    assert precopy(4096, 32.0, 128.0, 300.0) == precopy(4096, 32.0, 128.0, 300.0, resident_mib=None)
    assert first_pass_mib(4096, None) == 4096


def test_round_0_sends_only_the_non_zero_memory() -> None:
    # 1 GiB written of 4 GiB, idle: one pass of 1024 MiB at 128 MiB/s.
    r = precopy(4096, 0.0, 128.0, 300.0, resident_mib=1024)
    assert r.converges
    assert r.sent_mib == pytest.approx(1024)
    assert r.duration_s == pytest.approx(8.0)


def test_later_rounds_still_resend_what_the_guest_dirtied() -> None:
    # λ = 32/128: rounds of 2048, 512, 128, 32 MiB (32 ≤ 128 MiB/s × 0.3 s stops it).
    r = precopy(4096, 32.0, 128.0, 300.0, resident_mib=2048)
    assert r.rounds == 3
    assert r.sent_mib == pytest.approx(2048 + 512 + 128 + 32)
    assert r.downtime_s == pytest.approx(32 / 128)
    assert precopy(4096, 32.0, 128.0, 300.0).sent_mib == pytest.approx(5456)


def test_resident_memory_is_clamped_to_the_guest_memory() -> None:
    assert first_pass_mib(1024, 5000) == 1024
    assert first_pass_mib(1024, -1) == 0


def test_estimate_uses_resident_memory_only_when_given() -> None:
    a, b, guest = host("a"), host("b"), vm("v", "a", memory_mib=4096, dirty_rate_mib_s=32.0)
    full = estimate(guest, a, b, Policy())
    assert estimate(guest, a, b, Policy(), resident_mib=None) == full
    part = estimate(guest, a, b, Policy(), resident_mib=1024)
    assert part.mode == "live"
    assert part.duration_s < full.duration_s / 3
    paused = vm("p", "a", state="paused", memory_mib=4096)
    assert estimate(paused, a, b, Policy(), resident_mib=1024).duration_s == pytest.approx(8.0)
