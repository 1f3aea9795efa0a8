"""Host CPU, machine types and NUMA from capability documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.agent.host_caps import (
    CpuDescription,
    host_model_xml,
    parse_capabilities,
    parse_cpu_xml,
    parse_domain_capabilities,
    vendor_of_model,
)

DATA = Path(__file__).parent / "data"


def test_domain_capabilities_host_model_and_usable_models() -> None:
    caps = parse_domain_capabilities((DATA / "domcaps-qemu.xml").read_text())
    assert caps.host_model == CpuDescription("Intel", "Skylake-Client-IBRS", ("md-clear", "vmx"))
    assert caps.usable_models == ("Skylake-Client", "Haswell-noTSX", "qemu64")


def test_domain_capabilities_without_support_say_nothing() -> None:
    xml = (
        "<domainCapabilities><cpu><mode name='host-model' supported='no'/>"
        "<mode name='custom' supported='no'/></cpu></domainCapabilities>"
    )
    caps = parse_domain_capabilities(xml)
    assert caps.host_model is None
    assert caps.usable_models is None  # unknown, not "none usable"


def test_capabilities_machine_types_for_the_host_arch() -> None:
    caps = parse_capabilities((DATA / "capabilities-qemu.xml").read_text())
    assert caps.arch == "x86_64"
    assert caps.numa_cells == 2
    assert caps.kvm
    assert caps.machine_types == (
        "pc", "pc-i440fx-10.0", "pc-q35-10.0", "pc-q35-9.2", "q35",
    )  # fmt: skip
    assert "pc-i440fx-9.2" not in caps.machine_types  # an i686 machine
    assert caps.cpu == CpuDescription("Intel", "Skylake-Client-IBRS", ("vmx",))


def test_capabilities_without_cells_count_one_node() -> None:
    xml = "<capabilities><host><cpu><arch>i686</arch></cpu></host></capabilities>"
    caps = parse_capabilities(xml)
    assert (caps.numa_cells, caps.machine_types, caps.kvm) == (1, (), False)


@pytest.mark.parametrize(
    ("model", "vendor"),
    [
        ("Skylake-Client-IBRS", "Intel"),
        ("Cascadelake-Server-v2", "Intel"),
        ("EPYC-Rome", "AMD"),
        ("Opteron_G3", "AMD"),
        ("qemu64", None),
        (None, None),
    ],
)
def test_vendor_of_model(model: str | None, vendor: str | None) -> None:
    assert vendor_of_model(model) == vendor


def test_host_model_xml_round_trips_for_baselining() -> None:
    cpu = CpuDescription("Intel", "Skylake-Client-IBRS", ("md-clear", "vmx"))
    xml = host_model_xml(cpu, "x86_64")
    assert "mode=" not in xml  # baselineCPU refuses guest-CPU attributes
    assert parse_cpu_xml(xml) == cpu
