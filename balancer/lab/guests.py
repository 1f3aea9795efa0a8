"""Define, start, find and remove lab guests on a host connection."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt

from balancer.lab import console
from balancer.lab.artifacts import GuestArtifacts
from balancer.lab.domain_xml import domain_xml, volume_name
from balancer.lab.host_xml import raw_volume_xml
from balancer.lab.specs import GuestSpec


@dataclass(frozen=True)
class Guest:
    """A lab guest: what it was asked to do and where it prints its counter."""

    spec: GuestSpec
    console_log: Path

    @property
    def name(self) -> str:
        return self.spec.name

    def counter(self) -> int:
        """The last counter the guest printed (0 before its first tick)."""
        tick = console.last_tick(self.console_log)
        return 0 if tick is None else tick.counter

    def wait_for_counter(self, above: int, timeout: float = 60.0) -> console.Tick:
        """Wait until the guest prints a counter above ``above``; return that line."""
        return console.wait_for_counter(self.console_log, above, timeout)

    def disk_lines(self) -> list[console.DiskLine]:
        """What a disk-checking guest has reported of its disk so far."""
        return console.disk_lines(self.console_log)

    def last_disk_pass(self) -> int:
        """The number of the last disk check reported (0 before the first)."""
        return max((d.number for d in self.disk_lines() if d.kind == "pass"), default=0)

    def wait_for_disk_pass(self, above: int, timeout: float = 60.0) -> console.DiskLine:
        return console.wait_for_disk_pass(self.console_log, above, timeout)


def lookup(conn: Any, name: str) -> Any | None:
    """The domain ``name`` on ``conn``, or ``None`` if that host does not know it."""
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def define(conn: Any, spec: GuestSpec, artifacts: GuestArtifacts, log: Path) -> Any:
    """Define (not start) the guest, creating its disk volume if it has one."""
    path = None
    if spec.disk_pool is not None:
        pool = conn.storagePoolLookupByName(spec.disk_pool)
        path = pool.createXML(raw_volume_xml(volume_name(spec), spec.disk_mib), 0).path()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    return conn.defineXML(domain_xml(spec, artifacts, log, path))


_GONE = (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID)


def remove(conn: Any, name: str) -> bool:
    """Destroy and undefine ``name`` on this host; return whether it was there."""
    dom = lookup(conn, name)
    if dom is None:
        return False
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError as exc:
        # It may have stopped or left meanwhile (a migration that just ended).
        if exc.get_error_code() not in _GONE:
            raise
    left = lookup(conn, name)  # a destroyed transient domain is gone, a persistent one stays
    if left is not None and left.isPersistent():
        left.undefine()
    return True


def remove_volume(conn: Any, pool_name: str, volume: str) -> None:
    """Delete ``volume`` from this host's pool ``pool_name`` if both exist."""
    names = set(conn.listStoragePools())
    if pool_name not in names:
        return
    pool = conn.storagePoolLookupByName(pool_name)
    pool.refresh(0)
    if volume in pool.listVolumes():
        pool.storageVolLookupByName(volume).delete(0)


def volumes_of(dom: Any) -> set[tuple[str, str]]:
    """``(pool, volume)`` of each of the domain's volume disks, and of its file disks
    that lie in a pool of its host."""
    tree = ET.fromstring(dom.XMLDesc(0))
    found = set()
    for source in tree.findall("./devices/disk[@type='volume']/source"):
        pool, volume = source.get("pool"), source.get("volume")
        if pool and volume:
            found.add((pool, volume))
    for source in tree.findall("./devices/disk[@type='file']/source"):
        try:
            vol = dom.connect().storageVolLookupByPath(source.get("file", ""))
            found.add((vol.storagePoolLookupByVolume().name(), vol.name()))
        except libvirt.libvirtError:
            continue  # not in a pool of this host (nothing of ours to delete)
    return found
