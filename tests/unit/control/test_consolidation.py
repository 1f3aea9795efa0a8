"""Which hosts a consolidation keeps and which it drains (G4 hosts even, G5 hosts odd)."""

from __future__ import annotations

from balancer.control.settings import ControlSettings
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
