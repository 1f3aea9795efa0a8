"""compute_backoff: doubling, capped, jittered by the caller's random number."""

from __future__ import annotations

import pytest

from balancer.core.backoff import compute_backoff


@pytest.mark.parametrize(("attempt", "delay"), [(0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0)])
def test_doubles_up_to_the_cap_without_jitter(attempt: int, delay: float) -> None:
    assert compute_backoff(attempt, factor=0.5, cap=30.0, jitter=0.0) == delay


def test_jitter_spreads_within_bounds_and_never_exceeds_cap() -> None:
    low = compute_backoff(3, factor=1.0, cap=100.0, jitter=0.25, rand=0.0)
    high = compute_backoff(3, factor=1.0, cap=100.0, jitter=0.25, rand=0.999999)
    assert low == pytest.approx(3.0)
    assert high == pytest.approx(5.0, rel=1e-4)
    assert compute_backoff(50, factor=1.0, cap=10.0, jitter=0.5, rand=0.99) <= 10.0


def test_huge_attempts_do_not_overflow() -> None:
    assert compute_backoff(10_000, cap=5.0) <= 5.0
