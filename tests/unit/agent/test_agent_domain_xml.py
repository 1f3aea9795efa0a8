"""Migratability facts parsed from domain XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancer.core.models import Devices
from workers.agent.domain_xml import UNKNOWN_MACHINE, DiskRef, parse_domain_xml

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def full() -> str:
    return (DATA / "domain-full.xml").read_text()


def test_identity_memory_and_vcpus(full: str) -> None:
    facts = parse_domain_xml(full)
    assert facts.name == "db-01"
    assert facts.uuid == "0b8ad6f2-6f8a-4d6e-9d67-1f6f0b1c2d3e"
    assert facts.memory_mib == 4096  # currentMemory, not the maximum
    assert facts.vcpus == 2  # current, not the maximum


def test_cpu_model_and_required_features_only(full: str) -> None:
    facts = parse_domain_xml(full)
    assert (facts.cpu_mode, facts.cpu_model, facts.cpu_vendor) == (
        "custom",
        "Cascadelake-Server",
        None,
    )
    assert facts.cpu_features == ("avx512vnni", "pdpe1gb")  # not optional/disable


def test_machine_type(full: str) -> None:
    assert parse_domain_xml(full).machine_type == "pc-q35-10.0"


def test_disks_skip_removable_media(full: str) -> None:
    disks = parse_domain_xml(full).disks
    assert disks == (
        DiskRef("network", "volumes/db-01-root", protocol="rbd", target="vda"),
        DiskRef("volume", "db-01-data", pool="local-lvm", target="vdb"),
        DiskRef("file", "/var/lib/libvirt/images/db-01-log.qcow2", target="vdc"),
    )


def test_networks_by_kind_and_sriov_counted_as_device(full: str) -> None:
    facts = parse_domain_xml(full)
    assert facts.networks == ("br-storage", "eno2", "prod")  # user networking needs none
    assert facts.devices == Devices(hostdev=2, sriov=1, mdev=1)


def test_pinning_and_metadata(full: str) -> None:
    facts = parse_domain_xml(full)
    assert facts.numa_pinned
    assert facts.critical
    assert facts.labels == {"tier": "db", "team": "core"}


def test_minimal_domain_gets_safe_defaults() -> None:
    facts = parse_domain_xml((DATA / "domain-minimal.xml").read_text())
    assert facts.memory_mib == 256  # <memory unit='MiB'> when no currentMemory
    assert facts.cpu_mode == ""
    assert facts.cpu_model is None
    assert facts.machine_type == UNKNOWN_MACHINE
    assert facts.disks == ()
    assert facts.devices == Devices()
    assert not facts.numa_pinned
    assert not facts.critical
    assert facts.labels == {}


@pytest.mark.parametrize(
    ("fragment", "pinned"),
    [
        ("<numatune><memory mode='strict' nodeset='0-1'/></numatune>", True),
        ("<numatune><memnode cellid='0' mode='strict' nodeset='0'/></numatune>", True),
        ("<numatune><memory mode='strict' placement='auto'/></numatune>", False),
        ("<cputune><emulatorpin cpuset='1'/></cputune>", True),
        ("<cputune><shares>2048</shares></cputune>", False),
        ("", False),
    ],
)
def test_numa_pinning_variants(fragment: str, pinned: bool) -> None:
    xml = (
        "<domain><name>v</name><memory>1048576</memory><vcpu>1</vcpu>"
        f"{fragment}<os><type machine='q35'>hvm</type></os></domain>"
    )
    assert parse_domain_xml(xml).numa_pinned is pinned


def test_vcpu_cpuset_pins() -> None:
    xml = "<domain><name>v</name><memory>1048576</memory><vcpu cpuset='0-3'>2</vcpu></domain>"
    assert parse_domain_xml(xml).numa_pinned


@pytest.mark.parametrize(
    ("memory", "mib"),
    [
        ("<currentMemory unit='GiB'>2</currentMemory>", 2048),
        ("<currentMemory unit='KiB'>524288</currentMemory>", 512),
        ("<currentMemory unit='bytes'>1073741824</currentMemory>", 1024),
        ("<currentMemory>262144</currentMemory>", 256),
    ],
)
def test_memory_units(memory: str, mib: int) -> None:
    xml = f"<domain><name>v</name><memory unit='GiB'>8</memory>{memory}</domain>"
    assert parse_domain_xml(xml).memory_mib == mib


def test_cpu_vendor_stated_and_host_model_mode() -> None:
    xml = (
        "<domain><name>v</name><memory>1048576</memory>"
        "<cpu mode='host-model'><model>EPYC-Rome</model><vendor>AMD</vendor>"
        "<feature name='svm'/></cpu></domain>"
    )
    facts = parse_domain_xml(xml)
    assert (facts.cpu_mode, facts.cpu_model, facts.cpu_vendor) == ("host-model", "EPYC-Rome", "AMD")
    assert facts.cpu_features == ("svm",)  # policy defaults to require
