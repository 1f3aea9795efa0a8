"""Offline migration moves the definition of a shut-off guest."""

from __future__ import annotations

import libvirt
import pytest

from balancer.lab.background import Background
from balancer.lab.guests import lookup
from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory

pytestmark = pytest.mark.lab
OFFLINE_P2P = (
    libvirt.VIR_MIGRATE_OFFLINE
    | libvirt.VIR_MIGRATE_PEER2PEER
    | libvirt.VIR_MIGRATE_PERSIST_DEST
    | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
)


def test_offline_migration_of_a_shut_off_guest(lab: Lab, lab_guests: GuestFactory) -> None:
    guest = lab_guests.add("lab-a", start=False, dirty_rate_mib_s=2)
    dom = lab.conn("lab-a").lookupByName(guest.name)
    assert not dom.isActive()

    run = Background(lambda: dom.migrateToURI3(lab.host("lab-b").uri, {}, OFFLINE_P2P), "mig")
    run.result(timeout=120)

    assert lookup(lab.conn("lab-a"), guest.name) is None
    on_dest = lab.conn("lab-b").lookupByName(guest.name)
    assert on_dest.isPersistent()
    assert not on_dest.isActive()
    on_dest.create()  # the moved definition is complete: the guest boots on lab-b
    assert guest.wait_for_counter(above=0, timeout=120).counter >= 1
