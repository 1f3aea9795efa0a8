"""Disks on a host's own storage move with the VM (real libvirt hosts and QEMU guests):
live with libvirt's storage migration, offline through storage volume streams; the
guest keeps a pattern on its disk and checks it (``deploy/lab/guest-disk.c``)."""

from __future__ import annotations

import hashlib
import struct
import time
from pathlib import Path

import libvirt
import pytest
import redis

from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory
from tests.lab.test_executor import executor, where
from workers.executor.libvirt_hv import LibvirtHypervisor
from workers.executor.order import MigrationOrder

pytestmark = pytest.mark.lab
BLOCK = 4096
MAGIC = 0x4B424C4449534B31


def images(lab: Lab, host: str) -> Path:
    """Where host's ``default`` pool (its private /var/lib/libvirt/images) is on disk."""
    return Path(lab.host(host).dir) / "lib" / "images"


def pattern_generations(path: Path) -> list[int]:
    """Each block's generation, read from the image file; a block without the guest's
    header for its index fails the test."""
    data = path.read_bytes()
    gens = []
    for i in range(len(data) // BLOCK):
        magic, index, gen = struct.unpack_from("<QQQ", data, i * BLOCK)
        assert (magic, index) == (MAGIC, i), f"block {i} of {path} does not hold the pattern"
        assert gen >= 1
        gens.append(gen)
    return gens


def test_a_guest_on_a_host_local_pool_moves_live_with_its_disk(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", memory_mib=160, dirty_rate_mib_s=4, working_set_mib=48,
                           disk_pool="default", disk_check=True)  # fmt: skip
    guest.wait_for_disk_pass(above=1, timeout=90)
    volume = f"{guest.name}.img"
    order = MigrationOrder(vm=guest.name, source="lab-a", dest="lab-b", mode="live",
                           memory_mib=160, copy_storage=True, copy_bytes=4 << 20)  # fmt: skip
    out = executor(hv, redis_client).run(order, token="t-disk")
    at_end = guest.last_disk_pass()

    assert out.result == "completed", out
    assert where(lab, guest.name) == {"lab-b": (libvirt.VIR_DOMAIN_RUNNING, True)}
    # The guest keeps writing and checking its disk, now on lab-b's copy.
    after = guest.wait_for_disk_pass(above=at_end + 2, timeout=90)
    assert after.ok, after.text
    assert all(d.ok for d in guest.disk_lines()), [d.text for d in guest.disk_lines() if not d.ok]
    assert not (images(lab, "lab-a") / volume).exists()  # removed after verification
    gens = pattern_generations(images(lab, "lab-b") / volume)
    assert len(gens) == 1024
    assert max(gens) >= 2  # written during and after the move too
    steps = [s.step for s in out.steps]
    assert steps.index("remove-source") > steps.index("start")
    assert out.steps[0].reason == "mode live, disks copied"
    assert out.actual is not None
    assert out.actual.bytes is not None


def test_a_shut_off_guest_moves_offline_with_its_disk_verified(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", memory_mib=128, working_set_mib=32, disk_pool="default",
                           disk_check=True)  # fmt: skip
    guest.wait_for_disk_pass(above=1, timeout=90)
    lab.conn("lab-a").lookupByName(guest.name).destroy()  # writes are O_DIRECT|O_DSYNC
    volume = f"{guest.name}.img"
    before = hashlib.sha256((images(lab, "lab-a") / volume).read_bytes()).hexdigest()
    order = MigrationOrder(vm=guest.name, source="lab-a", dest="lab-b", mode="offline",
                           expected_state="shutoff", memory_mib=128, copy_storage=True,
                           copy_bytes=4 << 20)  # fmt: skip
    out = executor(hv, redis_client).run(order, token="t-offline-disk")

    assert out.result == "completed", out
    assert where(lab, guest.name) == {"lab-b": (libvirt.VIR_DOMAIN_SHUTOFF, True)}
    assert not (images(lab, "lab-a") / volume).exists()
    copied = (images(lab, "lab-b") / volume).read_bytes()
    assert hashlib.sha256(copied).hexdigest() == before
    steps = [s.step for s in out.steps]
    # copied and checksummed, then verified, and only then the source removed
    assert steps[-1] == "remove-source", steps
    copy = next(s for s in out.steps if s.step == "copy")
    assert f"sha256 {before[:16]}… verified on lab-b" in copy.reason
    # It boots on lab-b and finds its disk as it left it.
    lab.conn("lab-b").lookupByName(guest.name).create()
    deadline = time.monotonic() + 90
    while not [d for d in guest.disk_lines() if d.kind == "boot ok"]:
        assert time.monotonic() < deadline, [d.text for d in guest.disk_lines()]
        time.sleep(0.2)
    assert guest.wait_for_disk_pass(above=guest.last_disk_pass(), timeout=90).ok


def test_a_volume_already_on_the_destination_is_not_overwritten(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    """A pool the plan took for local that is shared after all (or a stale copy): the
    copy would overwrite the disk with itself; nothing starts."""
    guest = lab_guests.add("lab-a", memory_mib=128, working_set_mib=32, disk_pool="shared",
                           start=False)  # fmt: skip
    order = MigrationOrder(vm=guest.name, source="lab-a", dest="lab-b", mode="offline",
                           expected_state="shutoff", memory_mib=128, copy_storage=True)  # fmt: skip
    with pytest.raises(Exception, match="exists on lab-b already: not copying over it"):
        executor(hv, redis_client).run(order, token="t-shared-copy")
    assert where(lab, guest.name) == {"lab-a": (libvirt.VIR_DOMAIN_SHUTOFF, True)}
    assert (lab.root / "pools" / "shared" / f"{guest.name}.img").exists()
