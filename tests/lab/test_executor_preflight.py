"""Preflight on real libvirt hosts: the VM's networks and disk pools must still fit the
live destination; otherwise the move is refused and nothing starts."""

from __future__ import annotations

import pytest
import redis

from balancer.errors import PreflightError
from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory
from tests.lab.test_executor import executor, lease_holder, where
from workers.executor.libvirt_hv import LibvirtHypervisor
from workers.executor.order import MigrationOrder
from workers.executor.records import RedisRecorder

pytestmark = pytest.mark.lab


def order(name: str, **kw: object) -> MigrationOrder:
    return MigrationOrder(
        vm=name,
        source="lab-a",
        dest="lab-b",
        mode="live",
        memory_mib=192,
        **kw,  # type: ignore[arg-type]
    )


def test_the_attachments_and_resources_read_on_live_connections(
    lab_guests: GuestFactory, hv: LibvirtHypervisor
) -> None:
    guest = lab_guests.add("lab-a", networks=("lab-net", "backup-net"), disk_pool="shared")
    needs = hv.attachments("lab-a", guest.name)
    assert needs.networks == ("backup-net", "lab-net")
    assert needs.pools == ("shared",)
    offered = hv.resources("lab-b")
    assert offered.networks == ("lab-net",)
    assert offered.pools == ("default", "shared")


def test_a_network_missing_on_the_destination_refuses_the_move(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", networks=("backup-net",))  # lab-b has no backup-net
    before = guest.counter()
    with pytest.raises(PreflightError, match="network backup-net is not active on lab-b"):
        executor(hv, redis_client).run(order(guest.name), token="t-net")
    assert where(lab, guest.name) == {"lab-a": (1, True)}  # nothing started
    assert hv.job("lab-a", guest.name) is None
    guest.wait_for_counter(above=before + 4, timeout=60)
    [out] = RedisRecorder(redis_client).outcomes()
    assert out.result == "failed"
    assert [s.step for s in out.steps] == []
    assert lease_holder(redis_client, guest.name) is None


def test_a_disk_on_a_host_local_pool_refuses_a_live_move(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", disk_pool="default")
    with pytest.raises(PreflightError, match="pool default was not planned as shared"):
        executor(hv, redis_client).run(order(guest.name), token="t-disk")
    assert where(lab, guest.name) == {"lab-a": (1, True)}


def test_a_guest_on_a_network_the_destination_has_moves(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", networks=("lab-net",))
    out = executor(hv, redis_client).run(order(guest.name, bandwidth_mib_s=64), token="t-ok")
    assert out.result == "completed", out
    assert where(lab, guest.name) == {"lab-b": (1, True)}
