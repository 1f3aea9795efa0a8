"""Evacuation bookkeeping: an operator's evacuation gets its total when first seen."""

from __future__ import annotations

from balancer.control.evacuations import track
from balancer.control.intents import Evacuation
from tests.unit.core.factories import host, snapshot, vm


def operators(host_name: str) -> Evacuation:
    """As ``balancer evacuate`` stores it: nothing counted yet."""
    return Evacuation(id="e1", host=host_name, reason="DIMM", by="operator",
                      created_at=0.0, updated_at=0.0)  # fmt: skip


def test_an_operators_evacuation_counts_its_total_then_only_what_is_left() -> None:
    hosts = [host("h1", state="maintenance"), host("h2")]
    full = snapshot(hosts, [vm("a", "h1"), vm("b", "h1"), vm("c", "h1"), vm("d", "h2")])
    (first,), changed = track((operators("h1"),), full, 10.0)
    assert (first.vms_total, first.vms_left, first.state) == (3, 3, "running")
    assert changed == (first,)

    later = snapshot(hosts, [vm("a", "h2"), vm("b", "h1"), vm("c", "h2"), vm("d", "h2")])
    (second,), _ = track((first,), later, 20.0)
    assert (second.vms_total, second.vms_left) == (3, 1)

    empty = snapshot(hosts, [vm(n, "h2") for n in "abcd"])
    (done,), _ = track((second,), empty, 30.0)
    assert (done.state, done.vms_total, done.vms_left, done.finished_at) == ("done", 3, 0, 30.0)


def test_an_unchanged_evacuation_is_not_stored_again() -> None:
    hosts = [host("h1", state="maintenance"), host("h2")]
    snap = snapshot(hosts, [vm("a", "h1")])
    (first,), _ = track((operators("h1"),), snap, 10.0)
    assert track((first,), snap, 20.0) == ((first,), ())
