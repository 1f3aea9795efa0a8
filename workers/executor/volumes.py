"""The disks a move copies, on live libvirt connections: which they are, their volumes
created on the destination, and an offline copy through libvirt's storage volume
streams (``virStorageVol.download`` on the source, ``upload`` on the destination, holes
kept sparse) with a SHA-256 of the data, compared with the destination read back.

A disk is copied when it lies in a storage pool the plan did not count as shared; its
volume goes to the pool of the same name on the destination, under the same name, size
and format (what libvirt's own storage migration expects to find there).
"""

from __future__ import annotations

import contextlib
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt

from balancer.errors import PreflightError

#: Bytes per read of a volume stream.
CHUNK = 1 << 20
_ZEROS = bytes(CHUNK)
_NOT_IN_A_POOL = (libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_STORAGE_POOL)


@dataclass(frozen=True)
class VolumeRef:
    """One disk of the VM as a volume of a pool (the same on both hosts)."""

    target: str
    pool: str
    name: str
    capacity: int
    format: str
    #: Its path on the host it was read on.
    path: str


def disk_volumes(conn: Any, domain_xml: str) -> list[VolumeRef]:
    """Every disk of the definition that is a volume of a pool of ``conn``'s host."""
    out: list[VolumeRef] = []
    for disk in ET.fromstring(domain_xml).iterfind("devices/disk"):
        source, target = disk.find("source"), disk.find("target")
        if source is None or target is None or disk.get("device", "disk") not in ("disk", "lun"):
            continue
        try:
            if disk.get("type") == "volume":
                pool = conn.storagePoolLookupByName(source.get("pool", ""))
                vol = pool.storageVolLookupByName(source.get("volume", ""))
            elif path := source.get("file") or source.get("dev"):
                vol = conn.storageVolLookupByPath(path)
                pool = vol.storagePoolLookupByVolume()
            else:
                continue
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in _NOT_IN_A_POOL:
                continue
            raise
        fmt = ET.fromstring(vol.XMLDesc(0)).find("target/format")
        out.append(VolumeRef(target=target.get("dev", ""), pool=str(pool.name()),
                             name=str(vol.name()), capacity=int(vol.info()[1]),
                             format=fmt.get("type", "raw") if fmt is not None else "raw",
                             path=str(vol.path())))  # fmt: skip
    return out


def to_copy(volumes: list[VolumeRef], shared_pools: tuple[str, ...]) -> list[VolumeRef]:
    return [v for v in volumes if v.pool not in shared_pools]


def volume_xml(ref: VolumeRef) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = ref.name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(ref.capacity)
    ET.SubElement(vol, "allocation", unit="bytes").text = "0"
    ET.SubElement(ET.SubElement(vol, "target"), "format", type=ref.format)
    return ET.tostring(vol, encoding="unicode")


def lookup(conn: Any, pool: str, name: str) -> Any | None:
    try:
        return conn.storagePoolLookupByName(pool).storageVolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in _NOT_IN_A_POOL:
            return None
        raise


def create_volume(conn: Any, ref: VolumeRef, host: str) -> Any:
    """The destination's new volume for ``ref``. One that exists already is refused: the
    pool may be storage both hosts share after all (the copy would overwrite the disk
    with itself, and removing the source's would delete it), or a copy left behind."""
    pool = conn.storagePoolLookupByName(ref.pool)
    pool.refresh(0)  # a volume made by another host in a shared directory shows up
    if lookup(conn, ref.pool, ref.name) is not None:
        raise PreflightError(
            f"volume {ref.pool}/{ref.name} exists on {host} already: not copying over it "
            f"(if pool {ref.pool} is storage the hosts share, have the agents report it "
            "shared: --shared-pool; else delete the stale volume)"
        )
    return pool.createXML(volume_xml(ref), 0)


def delete(conn: Any, pool: str, name: str) -> bool:
    """Delete the volume if it exists; whether it did."""
    vol = lookup(conn, pool, name)
    if vol is None:
        return False
    vol.delete(0)
    return True


class _Digest:
    """A SHA-256 of a volume's bytes, holes counted as the zeros they read as."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.bytes = 0

    def data(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.bytes += len(chunk)

    def hole(self, length: int) -> None:
        self.bytes += length
        while length > 0:
            n = min(length, CHUNK)
            self.sha.update(_ZEROS[:n])
            length -= n


def copy(src_conn: Any, src_vol: Any, dst_conn: Any, dst_vol: Any) -> tuple[str, int]:
    """Stream ``src_vol`` into ``dst_vol`` (sparse); the SHA-256 and size of what was sent."""
    down, up = src_conn.newStream(0), dst_conn.newStream(0)
    sparse = libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM
    digest = _Digest()
    src_vol.download(down, 0, 0, sparse)
    dst_vol.upload(up, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)

    def data(_stream: Any, chunk: bytes, _opaque: object) -> int:
        digest.data(chunk)
        return int(up.send(chunk))

    def hole(_stream: Any, length: int, _opaque: object) -> int:
        digest.hole(length)
        return int(up.sendHole(length, 0))

    try:
        down.sparseRecvAll(data, hole, None)
        down.finish()
        up.finish()
    except BaseException:
        for stream in (down, up):
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
        raise
    return digest.sha.hexdigest(), digest.bytes


def checksum(conn: Any, vol: Any) -> tuple[str, int]:
    """The SHA-256 and size of the volume's contents, read through a stream."""
    down = conn.newStream(0)
    digest = _Digest()
    vol.download(down, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)

    def data(_stream: Any, chunk: bytes, _opaque: object) -> int:
        digest.data(chunk)
        return len(chunk)

    def hole(_stream: Any, length: int, _opaque: object) -> int:
        digest.hole(length)
        return 0

    down.sparseRecvAll(data, hole, None)
    down.finish()
    return digest.sha.hexdigest(), digest.bytes
