"""Lab hosts differ like real ones: a missing network or pool makes a migration fail."""

from __future__ import annotations

import libvirt
import pytest

from balancer.lab.guests import lookup
from balancer.lab.lab import Lab
from balancer.lab.probes import LIVE_P2P
from balancer.lab.pytest_plugin import GuestFactory
from balancer.lab.state import HostRecord

pytestmark = pytest.mark.lab
#: libvirt cannot tell that the lab's "shared" pool (one directory) is shared storage.
WITH_DISK = LIVE_P2P | libvirt.VIR_MIGRATE_UNSAFE


def names(objects: list[object]) -> set[str]:
    return {o.name() for o in objects}  # type: ignore[attr-defined]


def test_each_host_defines_its_own_pools_and_networks(lab: Lab, lab_island: HostRecord) -> None:
    seen = {
        host: (names(lab.conn(host).listAllStoragePools()), names(lab.conn(host).listAllNetworks()))
        for host in ("lab-a", "lab-b", lab_island.name)
    }
    assert seen["lab-a"] == ({"default", "shared"}, {"lab-net", "backup-net"})
    assert seen["lab-b"] == ({"default", "shared"}, {"lab-net"})
    assert seen["lab-c"] == ({"default"}, {"other-net"})
    for host in seen:
        assert all(p.isActive() for p in lab.conn(host).listAllStoragePools())
        assert all(n.isActive() for n in lab.conn(host).listAllNetworks())


def migrate_fails(lab: Lab, name: str, dest: str, flags: int, error: str) -> None:
    dom = lab.conn("lab-a").lookupByName(name)
    with pytest.raises(libvirt.libvirtError, match=error):
        dom.migrateToURI3(lab.host(dest).uri, {}, flags)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING  # still on the source
    assert lookup(lab.conn(dest), name) is None


def test_a_guest_network_must_exist_on_the_destination(
    lab: Lab, lab_island: HostRecord, lab_guests: GuestFactory
) -> None:
    guest = lab_guests.add("lab-a", networks=("lab-net",))
    migrate_fails(lab, guest.name, lab_island.name, LIVE_P2P, "lab-net")
    lab.conn("lab-a").lookupByName(guest.name).migrateToURI3(lab.host("lab-b").uri, {}, LIVE_P2P)
    assert lab.conn("lab-b").lookupByName(guest.name).isActive()
    assert guest.wait_for_counter(above=guest.counter() + 2).counter > 0


def test_a_guest_disk_pool_must_exist_on_the_destination(
    lab: Lab, lab_island: HostRecord, lab_guests: GuestFactory
) -> None:
    shared = lab_guests.add("lab-a", disk_pool="shared")
    migrate_fails(lab, shared.name, lab_island.name, WITH_DISK, "shared")
    lab.conn("lab-a").lookupByName(shared.name).migrateToURI3(lab.host("lab-b").uri, {}, WITH_DISK)
    assert lab.conn("lab-b").lookupByName(shared.name).isActive()
    lab.remove_guest(shared.name)

    local = lab_guests.add("lab-a", disk_pool="default")  # each host's own directory
    migrate_fails(lab, local.name, "lab-b", WITH_DISK, f"{local.name}.img")
