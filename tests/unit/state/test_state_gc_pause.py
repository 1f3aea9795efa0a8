"""The snapshot read pauses the cyclic GC and leaves its objects in the oldest
generation, without disturbing objects someone froze on purpose."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from balancer.state.snapshot_read import _gc_paused


class Node:
    pass


@pytest.fixture
def gc_state() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()
    if was:
        gc.enable()
    else:
        gc.disable()


def test_paused_then_promoted(gc_state: None) -> None:
    gc.enable()
    with _gc_paused():
        assert not gc.isenabled()
        made = [Node() for _ in range(1000)]
    assert gc.isenabled()
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(o) in oldest for o in made)
    assert gc.get_freeze_count() == 0


def test_a_disabled_collector_stays_disabled(gc_state: None) -> None:
    gc.disable()
    with _gc_paused():
        pass
    assert not gc.isenabled()


def test_objects_frozen_by_someone_else_stay_frozen(gc_state: None) -> None:
    gc.enable()
    keep = [Node()]
    gc.freeze()
    frozen = gc.get_freeze_count()
    with _gc_paused():
        [Node() for _ in range(10)]
    assert gc.get_freeze_count() == frozen
    assert keep
