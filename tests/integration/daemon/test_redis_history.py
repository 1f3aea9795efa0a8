"""The daemon's per-VM history on a real redis-server: samples follow a VM that moved,
one sample per step at most, the window's columns, the back-fill of a newcomer."""

from __future__ import annotations

import itertools
from typing import cast

import numpy as np
import pytest
import redis

from balancer.core.models import Snapshot
from balancer.daemon.redis_history import RedisHistory
from balancer.state.keys import Keys
from tests.unit.core.factories import host, vm

KEYS = Keys("t")


def snap(t: float, load: dict[str, tuple[str, float]]) -> Snapshot:
    hosts = tuple(host(n) for n in ("a", "b"))
    vms = tuple(vm(name, on, cpu_used=cpu) for name, (on, cpu) in load.items())
    return Snapshot(version=1, taken_at=t, generation=int(t), hosts=hosts, vms=vms)


def test_a_migrated_vms_samples_follow_it(redis_client: redis.Redis) -> None:
    h = RedisHistory(redis_client, KEYS, step_s=60, keep_s=600)
    h.record(snap(0, {"x": ("a", 1.0), "y": ("a", 2.0)}))
    h.record(snap(60, {"x": ("a", 1.5), "y": ("a", 2.5)}))
    now = snap(120, {"y": ("a", 3.0), "x": ("b", 0.5)})  # x moved to b; order changed
    m = h.matrix(now, window_s=180, step_s=60)
    assert m.shape == (2, 3)
    assert m[0].tolist() == pytest.approx([2.0, 2.5, 3.0])  # y
    assert m[1].tolist() == pytest.approx([1.0, 1.5, 0.5])  # x, across its move


def test_one_sample_per_step_and_only_the_window_kept(redis_client: redis.Redis) -> None:
    h = RedisHistory(redis_client, KEYS, step_s=60, keep_s=180)
    for t in range(0, 1200, 20):  # a cycle every 20 s records a sample every 60 s
        h.record(snap(float(t), {"x": ("a", float(t))}))
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], redis_client.xrange(KEYS.vm_history))
    times = [float(f[b"t"]) for _id, f in entries]
    assert all(b - a >= 60 for a, b in itertools.pairwise(times))
    assert len(entries) <= 180 / 60 + 2


def test_a_newcomer_has_its_oldest_sample_repeated_back(redis_client: redis.Redis) -> None:
    h = RedisHistory(redis_client, KEYS, step_s=60, keep_s=600)
    h.record(snap(0, {"x": ("a", 1.0)}))
    h.record(snap(60, {"x": ("a", 1.0), "new": ("b", 4.0)}))
    m = h.matrix(snap(120, {"x": ("a", 1.0), "new": ("b", 5.0)}), window_s=300, step_s=60)
    assert m.shape == (2, 5)
    assert m[1].tolist() == pytest.approx([4.0, 4.0, 4.0, 4.0, 5.0])
    assert not np.isnan(m).any()


def test_a_gap_in_the_samples_holds_the_latest_before(redis_client: redis.Redis) -> None:
    h = RedisHistory(redis_client, KEYS, step_s=60, keep_s=600)
    h.record(snap(0, {"x": ("a", 1.0)}))
    h.record(snap(240, {"x": ("a", 2.0)}))  # the daemon was down for three steps
    m = h.matrix(snap(360, {"x": ("a", 3.0)}), window_s=360, step_s=60)
    # columns at 60, 120, ..., 360: the sample of 0 holds until the one of 240
    assert m[0].tolist() == pytest.approx([1.0, 1.0, 1.0, 2.0, 2.0, 3.0])


def test_a_damaged_sample_is_skipped(redis_client: redis.Redis) -> None:
    h = RedisHistory(redis_client, KEYS, step_s=60, keep_s=600)
    h.record(snap(0, {"x": ("a", 1.0)}))
    h.record(snap(60, {"x": ("a", 2.0)}))
    redis_client.hset(KEYS.vm_history_cpu, "60", b"not zstd")
    m = h.matrix(snap(120, {"x": ("a", 3.0)}), window_s=180, step_s=60)
    assert m[0].tolist() == pytest.approx([1.0, 3.0, 3.0])


def test_names_are_stored_once_per_set_of_vms_and_old_samples_forgotten(
    redis_client: redis.Redis,
) -> None:
    h = RedisHistory(redis_client, KEYS, step_s=60, keep_s=120)
    for t in range(0, 600, 60):  # the VMs swap hosts: the same set, one layout
        on = "a" if t % 120 else "b"
        h.record(snap(float(t), {"x": (on, 1.0), "y": ("a", 2.0)}))
    assert redis_client.hlen(KEYS.vm_history_layouts) == 1
    h.record(snap(600.0, {"x": ("a", 1.0), "z": ("b", 5.0)}))  # a new set of VMs
    entries = redis_client.xlen(KEYS.vm_history)
    assert redis_client.hlen(KEYS.vm_history_cpu) == entries == 120 / 60 + 2
    assert redis_client.hlen(KEYS.vm_history_layouts) == 2
    for t in range(660, 1000, 60):
        h.record(snap(float(t), {"x": ("a", 1.0), "z": ("b", 5.0)}))
    assert redis_client.hlen(KEYS.vm_history_layouts) == 1  # the old set is forgotten
