"""Which CPU a guest needs from its destination, by mode."""

from __future__ import annotations

from dataclasses import replace

import pytest

from balancer.core.models import Devices, GuestCpu, Versions
from workers.agent.domain_xml import DomainFacts
from workers.agent.guest_cpu import DEFAULT_MODEL, guest_cpu
from workers.agent.host_facts import HostFacts

HOST = HostFacts(
    arch="x86_64",
    cpu_vendor="AMD",
    cpu_model="EPYC-Rome",
    cpu_features=("avx2", "svm"),
    cpu_models=None,
    numa_nodes=1,
    machine_types=(),
    networks=(),
    pools=(),
    mounts=(),
    pool_names=(),
    versions=Versions(qemu="10.0.0", libvirt="11.3.0"),
    skipped=(),
)


def _facts(mode: str, model: str | None, vendor: str | None = None) -> DomainFacts:
    return DomainFacts(
        name="v", uuid="u", vcpus=1, memory_mib=1, cpu_mode=mode, cpu_model=model,
        cpu_vendor=vendor, cpu_features=("x",), machine_type="q35", disks=(), networks=(),
        devices=Devices(), numa_pinned=False, critical=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "model", "expected"),
    [
        ("custom", "Skylake-Client", GuestCpu(vendor="AMD", model="Skylake-Client",
                                              features=("x",))),
        ("custom", "mycpu", GuestCpu(vendor="AMD", model="mycpu", features=("x",))),
        ("host-model", "EPYC", GuestCpu(vendor="AMD", model="EPYC", features=("x",))),
        ("host-model", None, GuestCpu(vendor="AMD", model=DEFAULT_MODEL, features=("x",))),
        ("", None, GuestCpu(vendor="AMD", model=DEFAULT_MODEL, features=("x",))),
        ("host-passthrough", None, GuestCpu(vendor="AMD", model="EPYC-Rome",
                                            features=("avx2", "svm"))),
    ],
)  # fmt: skip
def test_guest_cpu_on_a_known_host(mode: str, model: str | None, expected: GuestCpu) -> None:
    """The vendor is the hardware's: an Intel model name on an AMD host is still AMD."""
    assert guest_cpu(_facts(mode, model, "Intel"), HOST) == expected


@pytest.mark.parametrize(
    ("model", "vendor", "expected"),
    [("Skylake-Client", None, "Intel"), ("mycpu", "AMD", "AMD"), ("mycpu", None, "unknown")],
)
def test_guest_vendor_when_the_host_vendor_is_unknown(
    model: str, vendor: str | None, expected: str
) -> None:
    host = replace(HOST, cpu_vendor="unknown")
    assert guest_cpu(_facts("custom", model, vendor), host).vendor == expected
