"""Which domains' XML to (re-)read this collection: a cache with a refresh policy (pure).

Reading a domain's XML is a libvirt call per domain, so the facts parsed from it are
kept: a domain is read when new, when it starts or stops (a running domain's live XML
differs from its definition), and otherwise once ``refresh_s`` has passed — at most a
fair share of the domains per collection (``domains × interval / refresh_s``, oldest
first), so refreshes spread over the minute instead of arriving all at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from workers.agent.domain_xml import DomainFacts


@dataclass
class _Entry:
    facts: DomainFacts
    fetched_at: float
    active: bool


class DomainXmlCache:
    def __init__(self, interval_s: float, refresh_s: float) -> None:
        self.interval_s = interval_s
        self.refresh_s = refresh_s
        self._entries: dict[str, _Entry] = {}

    def due(self, domains: Iterable[tuple[str, bool]], now: float) -> set[str]:
        """UUIDs to read now, of ``domains`` given as ``(uuid, active)``."""
        listed = list(domains)
        share = math.ceil(len(listed) * self.interval_s / self.refresh_s)
        due: set[str] = set()
        old: list[tuple[float, str]] = []
        for uuid, active in listed:
            entry = self._entries.get(uuid)
            if entry is None or entry.active != active:
                due.add(uuid)
            elif now - entry.fetched_at >= self.refresh_s:
                old.append((entry.fetched_at, uuid))
        due.update(uuid for _, uuid in sorted(old)[:share])
        return due

    def get(self, uuid: str) -> DomainFacts | None:
        entry = self._entries.get(uuid)
        return entry.facts if entry else None

    def put(self, uuid: str, facts: DomainFacts, now: float, active: bool) -> None:
        self._entries[uuid] = _Entry(facts, now, active)

    def forget_except(self, present: set[str]) -> None:
        for uuid in [u for u in self._entries if u not in present]:
            del self._entries[uuid]
