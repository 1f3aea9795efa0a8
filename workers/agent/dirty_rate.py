"""When to measure each VM's dirty rate (``startDirtyRateCalc``, page sampling): a pure
schedule that bounds the cost.

A measurement makes QEMU hash sampled guest pages twice, ``calc_s`` apart; the result
shows up in a later ``getAllDomainStats`` (group dirtyrate). Each collection starts at
most ``max_starts`` measurements, only for running VMs, and each VM at most once per
``period_s``, least recently measured first; so on a host of N running VMs at most
``max_starts`` measurements run at once and each VM's rate is at most
``max(period_s, N / max_starts * interval)`` old.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_PERIOD_S = 60.0
DEFAULT_CALC_S = 1
DEFAULT_MAX_STARTS = 8


@dataclass
class DirtyRateSchedule:
    period_s: float = DEFAULT_PERIOD_S
    calc_s: int = DEFAULT_CALC_S
    max_starts: int = DEFAULT_MAX_STARTS
    #: Domain UUID → when its last measurement was started.
    last_started: dict[str, float] = field(default_factory=dict)

    def due(self, running: Iterable[str], now: float) -> list[str]:
        """Running domains to start measuring now, at most ``max_starts``, oldest first."""
        candidates = [
            (self.last_started.get(uuid, float("-inf")), uuid)
            for uuid in running
            if now - self.last_started.get(uuid, float("-inf")) >= self.period_s
        ]
        candidates.sort()
        return [uuid for _, uuid in candidates[: self.max_starts]]

    def started(self, uuid: str, now: float) -> None:
        self.last_started[uuid] = now

    def forget_except(self, present: set[str]) -> None:
        """Drop domains that are gone, so the table stays as big as the host."""
        for uuid in [u for u in self.last_started if u not in present]:
            del self.last_started[uuid]
