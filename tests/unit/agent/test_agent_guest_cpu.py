"""Which CPU a guest needs from its destination, by mode."""

from __future__ import annotations

from dataclasses import replace

import pytest

from balancer.core.models import Devices, GuestCpu, HypervisorCpu, PhysicalCpu, Versions
from workers.agent.domain_xml import DomainFacts
from workers.agent.guest_cpu import DEFAULT_MODEL, guest_cpu
from workers.agent.host_facts import HostFacts

HOST = HostFacts(
    arch="x86_64",
    cpu_vendor="AMD",
    cpu_model="EPYC-Rome",
    cpu_features=("avx2", "svm"),
    cpu_models=None,
    hypervisors={},
    physical=None,
    numa_nodes=1,
    machine_types=(),
    networks=(),
    pools=(),
    mounts=(),
    pool_names=(),
    versions=Versions(qemu="10.0.0", libvirt="11.3.0"),
    skipped=(),
)


#: The lab's hosts: KVM and TCG offer different CPUs; the node's own is a kvm64 + features.
LAB = replace(
    HOST,
    hypervisors={
        "kvm": HypervisorCpu(vendor="AMD", model="EPYC-Milan", features=("avx2",),
                             models=("486", "pentium")),
        "qemu": HypervisorCpu(vendor="AMD", model="EPYC", features=("pclmuldq",),
                              models=("Westmere",)),
    },
    physical=PhysicalCpu(vendor="AMD", model="kvm64-v1", features=("aes", "avx2")),
)  # fmt: skip


def _facts(
    mode: str, model: str | None, vendor: str | None = None, virt: str = "kvm"
) -> DomainFacts:
    return DomainFacts(
        name="v", uuid="u", vcpus=1, memory_mib=1, cpu_mode=mode, cpu_model=model,
        cpu_vendor=vendor, cpu_features=("x",), machine_type="q35", disks=(), networks=(),
        devices=Devices(), numa_pinned=False, critical=False, virt_type=virt,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "model", "expected"),
    [
        ("custom", "Skylake-Client", GuestCpu(vendor="AMD", model="Skylake-Client",
                                              features=("x",))),
        ("custom", "mycpu", GuestCpu(vendor="AMD", model="mycpu", features=("x",))),
        ("host-model", "EPYC", GuestCpu(vendor="AMD", model="EPYC", features=("x",),
                                        mode="host-model")),
        ("host-model", None, GuestCpu(vendor="AMD", model="EPYC-Rome", mode="host-model")),
        ("", None, GuestCpu(vendor="AMD", model=DEFAULT_MODEL, features=("x",))),
        ("host-passthrough", None, GuestCpu(vendor="AMD", model="EPYC-Rome",
                                            features=("avx2", "svm"), mode="host-passthrough")),
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


@pytest.mark.parametrize(
    ("mode", "model", "virt", "expected"),
    [
        ("custom", "Westmere", "qemu", GuestCpu(vendor="AMD", model="Westmere", features=("x",),
                                                virt_type="qemu")),
        ("host-model", None, "qemu", GuestCpu(vendor="AMD", model="EPYC", mode="host-model",
                                              virt_type="qemu")),
        ("host-model", None, "kvm", GuestCpu(vendor="AMD", model="EPYC-Milan", mode="host-model")),
        ("host-passthrough", None, "kvm", GuestCpu(vendor="AMD", model="kvm64-v1",
                                                   features=("aes", "avx2"),
                                                   mode="host-passthrough")),
    ],
)  # fmt: skip
def test_the_domain_type_goes_with_the_cpu(
    mode: str, model: str | None, virt: str, expected: GuestCpu
) -> None:
    """A TCG guest is judged by what TCG offers; host-passthrough by the node's own CPU."""
    assert guest_cpu(_facts(mode, model, virt=virt), LAB) == expected
