"""The machine's speed, printed beside every benchmark's absolute figures so that results
from different machines can be compared."""

from __future__ import annotations

import time


def loop_10m_s(steps: int = 10_000_000) -> float:
    """The CPU time of an empty Python loop of ``steps`` steps, in seconds."""
    t0 = time.process_time()
    for _ in range(steps):
        pass
    return round(time.process_time() - t0, 3)
