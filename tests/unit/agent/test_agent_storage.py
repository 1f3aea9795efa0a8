"""Pools, sharedness and which pool each disk is on."""

from __future__ import annotations

import pytest

from balancer.core.models import Disk
from workers.agent.domain_xml import DiskRef
from workers.agent.storage import (
    Mount,
    PoolInfo,
    mount_of,
    parse_pool_xml,
    resolve_disk,
    shared_mount_pools,
)

MOUNTS = (
    Mount("/", "ext4"),
    Mount("/var/lib/libvirt/images", "nfs4"),
    Mount("/srv/local", "xfs"),
    Mount("/mnt/ceph", "ceph"),
)


def _pool(kind: str, name: str = "p", path: str = "/srv/local/p", source: str = "") -> str:
    src = f"<source><name>{source}</name></source>" if source else "<source/>"
    return (
        f"<pool type='{kind}'><name>{name}</name><capacity unit='bytes'>100</capacity>"
        f"<available unit='bytes'>40</available>{src}<target><path>{path}</path></target></pool>"
    )


@pytest.mark.parametrize(
    ("kind", "path", "shared"),
    [
        ("netfs", "/srv/local/p", True),
        ("rbd", "", True),
        ("gluster", "", True),
        ("iscsi", "/dev/disk/by-path", True),
        ("dir", "/srv/local/p", False),
        ("dir", "/var/lib/libvirt/images", True),  # a directory on an NFS mount
        ("dir", "/var/lib/libvirt/images/sub", True),
        ("fs", "/mnt/ceph/vms", True),
        ("logical", "/dev/vg0", False),
    ],
)
def test_pool_sharedness(kind: str, path: str, shared: bool) -> None:
    assert parse_pool_xml(_pool(kind, path=path), MOUNTS).shared is shared


def test_pool_fields() -> None:
    info = parse_pool_xml(_pool("rbd", name="ceph", path="", source="volumes"), MOUNTS)
    assert info == PoolInfo("ceph", "rbd", "", "volumes", True, 100, 40)


def test_mount_of_picks_the_longest_prefix_and_not_a_sibling() -> None:
    assert mount_of("/var/lib/libvirt/images/a.qcow2", MOUNTS) == MOUNTS[1]
    assert mount_of("/var/lib/libvirt/images2/a.qcow2", MOUNTS) == MOUNTS[0]
    assert mount_of("/srv/local", MOUNTS) == MOUNTS[2]


POOLS = (
    PoolInfo("images", "dir", "/var/lib/libvirt/images", "", True),
    PoolInfo("fast", "dir", "/var/lib/libvirt/images/fast", "", False),
    PoolInfo("lvm", "logical", "/dev/vg0", "", False),
    PoolInfo("ceph", "rbd", "", "volumes", True),
)


@pytest.mark.parametrize(
    ("disk", "expected"),
    [
        (DiskRef("volume", "v1", pool="lvm"), Disk(pool="lvm", shared=False)),
        (DiskRef("volume", "v1", pool="gone"), Disk(pool="gone", shared=False)),
        (DiskRef("file", "/var/lib/libvirt/images/a.qcow2"), Disk(pool="images", shared=True)),
        (DiskRef("file", "/var/lib/libvirt/images/fast/b.raw"), Disk(pool="fast", shared=False)),
        (DiskRef("block", "/dev/vg0/lv1"), Disk(pool="lvm", shared=False)),
        (DiskRef("network", "volumes/img", protocol="rbd"), Disk(pool="ceph", shared=True)),
        (DiskRef("network", "other/img", protocol="rbd"), Disk(pool="rbd:other", shared=True)),
        (DiskRef("file", "/mnt/ceph/x/y.img"), Disk(pool="mount:/mnt/ceph", shared=True)),
        (DiskRef("file", "/srv/local/z.img"), Disk(pool="path:/srv/local", shared=False)),
    ],
)
def test_resolve_disk(disk: DiskRef, expected: Disk) -> None:
    assert resolve_disk(disk, POOLS, MOUNTS) == expected


def test_disk_size_from_block_stats_by_target_or_path() -> None:
    by_target = resolve_disk(
        DiskRef("volume", "v", pool="lvm", target="vda"), POOLS, (), {"vda": 7}
    )
    assert by_target.bytes == 7
    by_path = resolve_disk(
        DiskRef("file", "/dev/vg0/x", target="vdb"), POOLS, (), {"/dev/vg0/x": 9}
    )
    assert by_path.bytes == 9


def test_shared_mounts_become_pools() -> None:
    assert shared_mount_pools(MOUNTS) == ("mount:/mnt/ceph", "mount:/var/lib/libvirt/images")
