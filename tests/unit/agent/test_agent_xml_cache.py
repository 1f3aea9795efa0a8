"""When domain XML is read again: new or changed domains now, the rest spread out."""

from __future__ import annotations

from balancer.core.models import Devices
from workers.agent.domain_xml import DomainFacts
from workers.agent.xml_cache import DomainXmlCache


def _facts(name: str) -> DomainFacts:
    return DomainFacts(
        name=name, uuid=name, vcpus=1, memory_mib=1, cpu_mode="", cpu_model=None,
        cpu_vendor=None, cpu_features=(), machine_type="q35", disks=(), networks=(),
        devices=Devices(), numa_pinned=False, critical=False,
    )  # fmt: skip


def test_new_and_changed_domains_are_due_at_once() -> None:
    cache = DomainXmlCache(interval_s=10, refresh_s=60)
    assert cache.due([("a", True), ("b", False)], now=0) == {"a", "b"}
    cache.put("a", _facts("a"), 0, active=True)
    cache.put("b", _facts("b"), 0, active=False)
    assert cache.due([("a", True), ("b", False)], now=10) == set()
    assert cache.due([("a", False), ("b", False)], now=10) == {"a"}  # a stopped


def test_refreshes_spread_over_the_period() -> None:
    cache = DomainXmlCache(interval_s=10, refresh_s=60)
    names = [f"d{i:02d}" for i in range(30)]
    for n in names:
        cache.put(n, _facts(n), 0, active=True)
    listed = [(n, True) for n in names]
    reads_per_collection = []
    now = 0.0
    for _ in range(12):  # two minutes of collections
        now += 10
        due = cache.due(listed, now)
        reads_per_collection.append(len(due))
        for n in due:
            cache.put(n, _facts(n), now, active=True)
    assert max(reads_per_collection) <= 5  # ceil(30 * 10 / 60): never all at once
    assert sum(reads_per_collection) >= 30  # yet every domain was read again


def test_forget_and_get() -> None:
    cache = DomainXmlCache(interval_s=10, refresh_s=60)
    cache.put("a", _facts("a"), 0, active=True)
    assert cache.get("a") == _facts("a")
    cache.forget_except(set())
    assert cache.get("a") is None
