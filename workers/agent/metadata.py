"""kvm-balancer's libvirt metadata namespace: what an operator tells us inside the domain XML.

    <metadata>
      <kvmb:vm xmlns:kvmb="urn:kvm-balancer:vm:1">
        <kvmb:critical>true</kvmb:critical>          <!-- never switched to post-copy -->
        <kvmb:label name="tier">db</kvmb:label>       <!-- any number of labels -->
      </kvmb:vm>
    </metadata>

Set it with ``virsh metadata DOMAIN urn:kvm-balancer:vm:1 --key kvmb --config --live
--set '<vm><critical>true</critical><label name="tier">db</label></vm>'`` or
``dom.setMetadata(VIR_DOMAIN_METADATA_ELEMENT, metadata_xml(...), "kvmb", NAMESPACE)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree as ET

NAMESPACE = "urn:kvm-balancer:vm:1"
KEY = "kvmb"
_VM = f"{{{NAMESPACE}}}vm"
_CRITICAL = f"{{{NAMESPACE}}}critical"
_LABEL = f"{{{NAMESPACE}}}label"
_TRUE = frozenset({"true", "yes", "1", "on"})


def parse_metadata(metadata: ET.Element | None) -> tuple[bool, dict[str, str]]:
    """``(critical, labels)`` from a domain's ``<metadata>`` element (absent: no facts)."""
    if metadata is None:
        return False, {}
    vm = metadata.find(_VM)
    if vm is None:
        return False, {}
    critical_el = vm.find(_CRITICAL)
    critical = critical_el is not None and (critical_el.text or "").strip().lower() in _TRUE
    labels = {
        el.get("name", ""): (el.text or "").strip() for el in vm.iter(_LABEL) if el.get("name")
    }
    return critical, labels


def metadata_xml(*, critical: bool = False, labels: Mapping[str, str] | None = None) -> str:
    """The element to pass to ``setMetadata`` (libvirt adds the namespace)."""
    root = ET.Element("vm")
    if critical:
        ET.SubElement(root, "critical").text = "true"
    for name, value in sorted((labels or {}).items()):
        el = ET.SubElement(root, "label", name=name)
        el.text = value
    return ET.tostring(root, encoding="unicode")
