"""XML of what makes lab hosts differ: storage pools, networks, a guest's disk volume.

A network is an isolated Linux bridge with no IP (no dnsmasq, no firewall rules); the
same network name maps to a different bridge on each host, as on real hosts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET


def dir_pool_xml(name: str, path: str) -> str:
    pool = ET.Element("pool", type="dir")
    ET.SubElement(pool, "name").text = name
    ET.SubElement(ET.SubElement(pool, "target"), "path").text = path
    return ET.tostring(pool, encoding="unicode")


def network_xml(name: str, bridge: str) -> str:
    net = ET.Element("network")
    ET.SubElement(net, "name").text = name
    ET.SubElement(net, "bridge", name=bridge, stp="off", delay="0")
    return ET.tostring(net, encoding="unicode")


def raw_volume_xml(name: str, mib: int) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", unit="MiB").text = str(mib)
    ET.SubElement(ET.SubElement(vol, "target"), "format", type="raw")
    return ET.tostring(vol, encoding="unicode")
