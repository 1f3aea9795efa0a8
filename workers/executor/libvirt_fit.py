"""What a VM needs from a host (its disks' pools, network disks, libvirt networks) and
what a host offers (active pools and networks), asked on live libvirt connections.

A file or block disk belongs to the pool libvirt finds for its path on the VM's host
(``storageVolLookupByPath``), a network disk to the pool whose ``<source><name>`` is its
image pool; the others are listed apart (``unpooled`` paths, ``remote_disks``), as the
agent's report names them (``workers/agent/storage.py``). Interfaces of type
``network`` name a libvirt network; bridges and macvtap devices are outside libvirt's
network list and are not checked here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from workers.executor.hypervisor import Attachments, HostResources

_NOT_IN_A_POOL = (libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_STORAGE_POOL)


def attachments(conn: Any, dom: Any) -> Attachments:
    """The disks' pools and the networks of ``dom``, on the VM's host ``conn``."""
    root = ET.fromstring(dom.XMLDesc(0))
    pools: set[str] = set()
    remote: set[str] = set()
    unpooled: set[str] = set()
    targets: list[str] = []
    for disk in root.iterfind("devices/disk"):
        src, kind = disk.find("source"), disk.get("type", "file")
        if src is None or disk.get("device", "disk") not in ("disk", "lun"):
            continue
        target = disk.find("target")
        if target is not None and target.get("dev"):
            targets.append(target.get("dev", ""))
        if kind == "volume":
            pools.add(src.get("pool", ""))
        elif kind == "network":
            image_pool = src.get("name", "").split("/", 1)[0]
            pool = _pool_with_source(conn, image_pool)
            if pool is not None:
                pools.add(pool)
            else:
                remote.add(f"{src.get('protocol', 'network')}:{image_pool}")
        elif path := src.get("file") or src.get("dev"):
            if (pool := _pool_of(conn, path)) is not None:
                pools.add(pool)
            else:
                unpooled.add(path)
    networks = {
        src.get("network", "")
        for iface in root.iterfind("devices/interface[@type='network']")
        if (src := iface.find("source")) is not None
    }
    return Attachments(
        pools=tuple(sorted(pools)),
        remote_disks=tuple(sorted(remote)),
        unpooled=tuple(sorted(unpooled)),
        networks=tuple(sorted(networks)),
        targets=tuple(sorted(targets)),
    )


def _pool_of(conn: Any, path: str) -> str | None:
    try:
        return str(conn.storageVolLookupByPath(path).storagePoolLookupByVolume().name())
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in _NOT_IN_A_POOL:
            return None
        raise


def _pool_with_source(conn: Any, image_pool: str) -> str | None:
    """The pool whose ``<source><name>`` is a network disk's image pool (rbd, gluster)."""
    for pool in conn.listAllStoragePools(0):
        name = ET.fromstring(pool.XMLDesc(0)).findtext("source/name")
        if name and name.strip() == image_pool:
            return str(pool.name())
    return None


def resources(conn: Any) -> HostResources:
    pools = conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
    nets = conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE)
    return HostResources(
        pools=tuple(sorted(p.name() for p in pools)),
        networks=tuple(sorted(n.name() for n in nets)),
    )
