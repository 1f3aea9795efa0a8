"""The ``Clock`` port of a real fleet: Unix time and a real sleep."""

from __future__ import annotations

import time


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def real_seconds(self, seconds: float) -> float:
        """Real seconds in ``seconds`` of this clock (a simulated clock runs faster)."""
        return seconds
