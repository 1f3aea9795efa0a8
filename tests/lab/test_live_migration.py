"""Live peer-to-peer migration of a busy guest between two real libvirtd hosts."""

from __future__ import annotations

import libvirt
import pytest

from balancer.lab.background import Background
from balancer.lab.console import ticks
from balancer.lab.guests import lookup
from balancer.lab.probes import LIVE_P2P
from balancer.lab.pytest_plugin import BusyGuest

pytestmark = pytest.mark.lab


def test_live_p2p_migration_moves_a_running_guest(lab_busy_guest: BusyGuest) -> None:
    scene, name = lab_busy_guest, lab_busy_guest.guest.name
    before = scene.guest.wait_for_counter(above=scene.guest.counter() + 2).counter
    dom = scene.domain()
    run = Background(lambda: dom.migrateToURI3(scene.dest.uri, {}, LIVE_P2P), "migrate")
    run.result(timeout=300)
    at_end = scene.guest.counter()

    on_dest = scene.lab.conn("lab-b").lookupByName(name)
    assert on_dest.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert on_dest.isPersistent()
    assert lookup(scene.lab.conn("lab-a"), name) is None  # undefined on the source

    # Only the destination's QEMU is left to print: new ticks prove the guest runs there,
    # and a counter that never went down proves it was not rebooted on the way.
    after = scene.guest.wait_for_counter(above=at_end + 4, timeout=60).counter
    counters = [t.counter for t in ticks(scene.guest.console_log)]
    assert after > at_end >= before
    assert counters == sorted(counters), counters
