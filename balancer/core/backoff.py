"""How long to wait before retry number ``attempt``: a pure function (no clock, no random).

``compute_backoff(attempt, factor=0.5, cap=30.0, jitter=0.2, rand=0.5)`` grows as
``factor · 2^(attempt-1)`` up to ``cap``, then spreads by ±``jitter`` (a fraction) using
``rand`` in [0, 1) from the caller, so many agents that lost Redis together do not all
reconnect in the same instant.
"""

from __future__ import annotations


def compute_backoff(
    attempt: int,
    *,
    factor: float = 0.5,
    cap: float = 30.0,
    jitter: float = 0.2,
    rand: float = 0.5,
) -> float:
    """Seconds to wait before retry ``attempt`` (1 = the first retry); 0 for attempt < 1."""
    if attempt < 1:
        return 0.0
    base = min(cap, factor * 2.0 ** min(attempt - 1, 62))
    spread = 1.0 - jitter + 2.0 * jitter * min(max(rand, 0.0), 1.0)
    return max(0.0, min(cap, base * spread))
