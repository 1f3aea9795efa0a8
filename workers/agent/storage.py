"""Storage pools, whether each is shared, and which pool each disk lives on (pure).

Shared means another host sees the same data, so a running VM's disk need not be copied:
network pool types (netfs, rbd, gluster, iSCSI, ...) always are; a directory or
filesystem pool is when its target sits on a network filesystem mount (NFS, CephFS,
GlusterFS, CIFS, a cluster filesystem). A disk outside every libvirt pool gets a pool
name that says where it is: ``mount:<mountpoint>`` on a shared mount (the host then
advertises that pool too), ``<protocol>:<image pool>`` for a network disk (shared), and
``path:<directory>`` otherwise (local, and no other host advertises it: the VM stays).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from balancer.core.models import Disk
from workers.agent.domain_xml import DiskRef

NETWORK_POOL_TYPES = frozenset(
    {"netfs", "rbd", "gluster", "iscsi", "iscsi-direct", "sheepdog", "vstorage"}
)
SHARED_FS_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "ceph",
        "fuse.ceph",
        "fuse.cephfs",
        "glusterfs",
        "fuse.glusterfs",
        "cifs",
        "smb3",
        "gpfs",
        "ocfs2",
        "gfs2",
        "lustre",
        "beegfs",
        "fuse.sshfs",
        "fuse.moosefs",
        "virtiofs",
    }
)
_PATH_POOL_TYPES = frozenset({"dir", "fs", "netfs", "logical", "disk", "zfs", "mpath", "scsi"})


@dataclass(frozen=True, slots=True)
class Mount:
    mountpoint: str
    fstype: str


@dataclass(frozen=True, slots=True)
class PoolInfo:
    name: str
    type: str
    target_path: str
    #: rbd/gluster image pool (``<source><name>``), to match network disks.
    source_name: str
    shared: bool
    capacity_bytes: int = 0
    available_bytes: int = 0


def mount_of(path: str, mounts: Iterable[Mount]) -> Mount | None:
    """The mount holding ``path``: the longest mountpoint that is a prefix of it."""
    best: Mount | None = None
    norm = posixpath.normpath(path) if path else ""
    for m in mounts:
        mp = m.mountpoint.rstrip("/") or "/"
        inside = norm == mp or norm.startswith(mp + "/") or mp == "/"
        if inside and (best is None or len(mp) > len(best.mountpoint.rstrip("/") or "/")):
            best = m
    return best


def is_shared_mount(path: str, mounts: Iterable[Mount]) -> bool:
    m = mount_of(path, mounts)
    return m is not None and m.fstype in SHARED_FS_TYPES


def parse_pool_xml(xml: str, mounts: Iterable[Mount] = ()) -> PoolInfo:
    root = ET.fromstring(xml)
    kind = root.get("type", "")
    path = (root.findtext("target/path") or "").strip()
    shared = kind in NETWORK_POOL_TYPES or (
        kind in ("dir", "fs") and bool(path) and is_shared_mount(path, mounts)
    )

    def _bytes(tag: str) -> int:
        text = (root.findtext(tag) or "0").strip()
        return int(text) if text.isdigit() else 0

    return PoolInfo(
        name=(root.findtext("name") or "").strip(),
        type=kind,
        target_path=path,
        source_name=(root.findtext("source/name") or "").strip(),
        shared=shared,
        capacity_bytes=_bytes("capacity"),
        available_bytes=_bytes("available"),
    )


def shared_mount_pools(mounts: Iterable[Mount]) -> tuple[str, ...]:
    """Pools a host advertises for its network filesystem mounts (``mount:<point>``)."""
    return tuple(sorted(f"mount:{m.mountpoint}" for m in mounts if m.fstype in SHARED_FS_TYPES))


def resolve_disk(
    disk: DiskRef,
    pools: Iterable[PoolInfo],
    mounts: Iterable[Mount],
    capacity: Mapping[str, int] | None = None,
) -> Disk:
    """Which pool ``disk`` lives on and whether it is shared; ``capacity`` in bytes by
    target device or source path (from the block stats)."""
    sizes = capacity or {}
    size = sizes.get(disk.target) or sizes.get(disk.source, 0)
    pools = tuple(pools)
    if disk.kind == "volume":
        info = next((p for p in pools if p.name == disk.pool), None)
        return Disk(pool=disk.pool or "unknown", shared=info.shared if info else False, bytes=size)
    if disk.kind == "network":
        image_pool = disk.source.split("/", 1)[0]
        info = next((p for p in pools if p.source_name and p.source_name == image_pool), None)
        if info is not None:
            return Disk(pool=info.name, shared=info.shared, bytes=size)
        return Disk(pool=f"{disk.protocol or 'network'}:{image_pool}", shared=True, bytes=size)
    path = posixpath.normpath(disk.source)
    best: PoolInfo | None = None
    for p in pools:
        root = p.target_path.rstrip("/")
        inside = bool(root) and (path == root or path.startswith(root + "/"))
        longer = best is None or len(root) > len(best.target_path.rstrip("/"))
        if p.type in _PATH_POOL_TYPES and inside and longer:
            best = p
    if best is not None:
        return Disk(pool=best.name, shared=best.shared, bytes=size)
    m = mount_of(path, mounts)
    if m is not None and m.fstype in SHARED_FS_TYPES:
        return Disk(pool=f"mount:{m.mountpoint}", shared=True, bytes=size)
    return Disk(pool=f"path:{posixpath.dirname(path)}", shared=False, bytes=size)
