"""Our libvirt metadata namespace: parse, build, and round-trip through libvirt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import libvirt
import pytest

from balancer.bench.fake_node import domain_xml, node_xml
from workers.agent.connection import open_connection
from workers.agent.domain_xml import parse_domain_xml
from workers.agent.metadata import KEY, NAMESPACE, metadata_xml, parse_metadata


def _metadata(inner: str) -> ET.Element:
    return ET.fromstring(f"<metadata>{inner}</metadata>")


def test_absent_metadata_means_no_facts() -> None:
    assert parse_metadata(None) == (False, {})
    other = '<x:vm xmlns:x="urn:other"><x:critical>true</x:critical></x:vm>'
    assert parse_metadata(_metadata(other)) == (False, {})


@pytest.mark.parametrize(
    ("text", "critical"),
    [("true", True), (" Yes ", True), ("1", True), ("false", False), ("", False)],
)
def test_critical_values(text: str, critical: bool) -> None:
    inner = f'<k:vm xmlns:k="{NAMESPACE}"><k:critical>{text}</k:critical></k:vm>'
    assert parse_metadata(_metadata(inner))[0] is critical


def test_labels_need_a_name() -> None:
    inner = (
        f'<k:vm xmlns:k="{NAMESPACE}"><k:label name="a">1</k:label>'
        '<k:label>orphan</k:label><k:label name="b"> two </k:label></k:vm>'
    )
    assert parse_metadata(_metadata(inner)) == (False, {"a": "1", "b": "two"})


def test_built_element_parses_back() -> None:
    xml = metadata_xml(critical=True, labels={"tier": "db", "x": "<&>"})
    root = ET.fromstring(xml)
    # libvirt puts the element in our namespace; emulate that.
    for el in root.iter():
        el.tag = f"{{{NAMESPACE}}}{el.tag}"
    meta = ET.Element("metadata")
    meta.append(root)
    assert parse_metadata(meta) == (True, {"tier": "db", "x": "<&>"})


@pytest.fixture
def test_conn(tmp_path: Path) -> Iterator[libvirt.virConnect]:
    path = tmp_path / "node.xml"
    path.write_text(node_xml([domain_xml("plain")]))
    conn = open_connection(f"test://{path}")
    yield conn
    conn.close()


def test_set_with_libvirt_and_read_from_domain_xml(test_conn: libvirt.virConnect) -> None:
    dom = test_conn.lookupByName("plain")
    assert not parse_domain_xml(dom.XMLDesc(0)).critical
    dom.setMetadata(
        libvirt.VIR_DOMAIN_METADATA_ELEMENT,
        metadata_xml(critical=True, labels={"role": "primary"}),
        KEY,
        NAMESPACE,
        libvirt.VIR_DOMAIN_AFFECT_LIVE,
    )
    facts = parse_domain_xml(dom.XMLDesc(0))
    assert facts.critical
    assert facts.labels == {"role": "primary"}
