"""A VM's definition as its destination needs it (pure): the guide's ``virsh migrate
--xml`` procedure, for a host with a different path to the shared storage or other
network names.

``rewrite(xml, paths, networks)`` changes the ``<source file|dev|dir>`` of each disk
whose path starts with a prefix in ``paths`` (the longest prefix wins) and the
``<source network>`` of each interface named in ``networks``; everything else is left
as libvirt wrote it. The executor passes the result as ``VIR_MIGRATE_PARAM_DEST_XML``
(the running definition) and ``VIR_MIGRATE_PARAM_PERSIST_XML`` (the persistent one).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

_PATH_ATTRS = ("file", "dev", "dir")


def new_path(path: str, paths: Mapping[str, str]) -> str:
    """``path`` under the longest matching prefix's replacement (unchanged if none)."""
    best: str | None = None
    for old in paths:
        root = old.rstrip("/")
        inside = path == root or path.startswith(root + "/")
        if inside and (best is None or len(root) > len(best.rstrip("/"))):
            best = old
    if best is None:
        return path
    return paths[best].rstrip("/") + path[len(best.rstrip("/")) :]


def rewrite(xml: str, paths: Mapping[str, str], networks: Mapping[str, str]) -> str:
    """The domain XML with disk paths and network names changed (see the module doc)."""
    if not paths and not networks:
        return xml
    root = ET.fromstring(xml)
    for source in root.iterfind("devices/disk/source"):
        for attr in _PATH_ATTRS:
            value = source.get(attr)
            if value:
                source.set(attr, new_path(value, paths))
    for source in root.iterfind("devices/interface[@type='network']/source"):
        name = source.get("network") or ""
        if name in networks:
            source.set("network", networks[name])
    return ET.tostring(root, encoding="unicode")


def disk_paths(xml: str) -> dict[str, str]:
    """Target device → source path of each file or block disk (what verification reads)."""
    root = ET.fromstring(xml)
    out: dict[str, str] = {}
    for disk in root.iterfind("devices/disk"):
        source, target = disk.find("source"), disk.find("target")
        if source is None or target is None:
            continue
        path = next((source.get(a) for a in _PATH_ATTRS if source.get(a)), None)
        if path:
            out[target.get("dev", "")] = path
    return out
