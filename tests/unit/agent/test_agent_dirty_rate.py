"""The dirty-rate schedule bounds how many measurements run and how often."""

from __future__ import annotations

from workers.agent.dirty_rate import DirtyRateSchedule


def test_at_most_max_starts_per_collection_least_recent_first() -> None:
    s = DirtyRateSchedule(period_s=60, max_starts=2)
    vms = [f"vm{i}" for i in range(5)]
    first = s.due(vms, now=0.0)
    assert len(first) == 2
    for uuid in first:
        s.started(uuid, 0.0)
    second = s.due(vms, now=10.0)
    assert len(second) == 2
    assert not set(first) & set(second)  # never measured ones before measured ones


def test_each_vm_at_most_once_per_period() -> None:
    s = DirtyRateSchedule(period_s=60, max_starts=10)
    for uuid in s.due(["a", "b"], now=0.0):
        s.started(uuid, 0.0)
    assert s.due(["a", "b"], now=59.9) == []
    assert sorted(s.due(["a", "b"], now=60.0)) == ["a", "b"]


def test_bounded_over_time() -> None:
    """Over ten minutes of 10 s collections, 100 VMs: measurements ≤ starts × collections,
    and each VM measured about every period."""
    s = DirtyRateSchedule(period_s=60, max_starts=8)
    vms = [f"vm{i:03d}" for i in range(100)]
    counts = dict.fromkeys(vms, 0)
    total = 0
    for step in range(60):
        due = s.due(vms, now=step * 10.0)
        assert len(due) <= 8
        for uuid in due:
            s.started(uuid, step * 10.0)
            counts[uuid] += 1
        total += len(due)
    assert total == 8 * 60  # saturated: never more than the bound
    assert min(counts.values()) >= 4
    assert max(counts.values()) <= 6


def test_forget_vanished_domains() -> None:
    s = DirtyRateSchedule()
    s.started("a", 0.0)
    s.started("b", 0.0)
    s.forget_except({"b"})
    assert set(s.last_started) == {"b"}
