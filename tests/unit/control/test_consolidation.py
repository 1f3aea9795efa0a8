"""Which hosts a consolidation keeps and which it drains (G4 hosts even, G5 hosts odd)."""

from __future__ import annotations

import msgspec

from balancer.control.settings import ControlSettings
from balancer.core.models import Disk
from tests.unit.control.factories import SETTINGS, decide_on, moved, settings
from tests.unit.sim.factories import snapshot, steady_history


def _moves(loads: dict[int, list[float]], config: ControlSettings) -> list[tuple[str, str, str]]:
    snap = snapshot(loads, hosts=8)
    d = decide_on(snap, steady_history(snap), config=config)
    assert d.intents == ("consolidation",), d.summary
    drained = {m.source for m in d.plan.moves}
    assert {a.host for a in d.plan.power if a.action == "off"} == drained
    return moved(d)


def test_a_drained_vm_lands_on_a_host_that_stays_not_on_the_next_to_drain() -> None:
    # One drain per step: host-3 goes first. The emptiest other host (host-5) is the
    # next to drain; its VM would move twice. host-1 has room for both and stays.
    loads = {1: [2.0, 1.0], 3: [0.2], 5: [0.3]}
    assert _moves(loads, settings(max_moves=1)) == [("vm-3-0", "host-3", "host-1")]


def test_the_efficient_host_is_kept_and_the_costly_one_drained() -> None:
    # Draining the G5 (one VM) is the fewest moves, but its VM would move again when
    # the G4 is replaced: the G5 carries a core for less and takes the G4's VMs.
    loads = {0: [0.5, 0.5], 1: [1.0]}
    assert _moves(loads, SETTINGS) == [
        ("vm-0-0", "host-0", "host-1"),
        ("vm-0-1", "host-0", "host-1"),
    ]


def test_a_costly_host_still_receives_when_the_efficient_ones_lack_room() -> None:
    # The G5 has 0.49 cores free under 75 %, not the 1.3 the G4s hold: one G4 stays
    # (the one whose drain saves less) and takes the other's VM.
    loads = {0: [1.2], 1: [2.0, 1.5], 2: [0.1]}
    assert _moves(loads, SETTINGS) == [("vm-0-0", "host-0", "host-2")]


def test_a_host_whose_vm_cannot_leave_is_left_out_and_the_others_drained() -> None:
    # vm-5-0 has a disk on host-5's local storage: no live migration can take it. The
    # drain of host-3 and host-5 is planned again without host-5.
    snap = snapshot({1: [1.0], 3: [0.3], 5: [0.2]}, hosts=8)
    local = msgspec.structs.replace(
        snap.vms[2], disks=(Disk(pool="local-5", shared=False, bytes=1 << 30),)
    )
    snap = msgspec.structs.replace(snap, vms=(*snap.vms[:2], local))
    d = decide_on(snap, steady_history(snap))
    assert d.intents == ("consolidation",), d.summary
    assert moved(d) == [("vm-3-0", "host-3", "host-1")]
    assert [(a.host, a.action) for a in d.plan.power] == [("host-3", "off")]
    assert d.plans_computed == 2
