"""Each filter, table-driven: the verdict and its reason for one VM and one destination."""

from __future__ import annotations

from typing import Any

import pytest

from balancer.core.cluster import ClusterState
from balancer.core.filters import REGISTRY, FilterContext
from balancer.core.models import (
    AffinityRule,
    AntiAffinityRule,
    Devices,
    Disk,
    HypervisorCpu,
    PhysicalCpu,
    PinRule,
    XmlRewrite,
)
from balancer.core.reasons import Reason
from balancer.core.rules import RuleIndex
from tests.unit.core.factories import host, snapshot, vm

SHARED = (Disk(pool="shared", shared=True),)
LOCAL = (Disk(pool="local", shared=False, bytes=1 << 30),)
#: A TCG host as the lab's: kvm can run only a few old models, qemu (TCG) many more.
TCG = {
    "kvm": HypervisorCpu(vendor="AMD", model="EPYC-Milan", features=("avx2", "pclmuldq"),
                         models=("486", "pentium")),
    "qemu": HypervisorCpu(vendor="AMD", model="EPYC", features=("arat", "hypervisor", "pclmuldq"),
                          models=("Westmere", "Nehalem", "qemu64")),
}  # fmt: skip
WESTMERE = {"vendor": "AMD", "model": "Westmere", "features": ("arat", "hypervisor", "pclmuldq")}
MILAN = PhysicalCpu(vendor="AMD", model="EPYC-Milan", features=("avx2", "sse4.2"))
PASSTHROUGH = {"vendor": "AMD", "model": "EPYC-Milan", "features": ("avx2", "sse4.2"),
               "cpu_mode": "host-passthrough"}  # fmt: skip

# (filter, source host kwargs, destination kwargs, VM kwargs, expected reason or None)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], Reason | None]] = [
    ("host-state", {}, {}, {}, None),
    ("host-state", {}, {"state": "maintenance"}, {}, Reason.HOST_NOT_ACTIVE),
    ("host-state", {}, {"state": "draining"}, {}, Reason.HOST_NOT_ACTIVE),
    ("host-state", {}, {"state": "failed"}, {}, Reason.HOST_NOT_ACTIVE),
    ("host-state", {}, {"state": "off"}, {}, Reason.HOST_NOT_ACTIVE),
    ("session-uri", {}, {"uri": "qemu:///session"}, {}, Reason.SESSION_URI),
    ("session-uri", {"uri": "qemu+ssh://a/session?x=1"}, {}, {}, Reason.SESSION_URI),
    ("session-uri", {}, {"uri": "qemu+ssh://b/system"}, {}, None),
    ("cpu-vendor", {}, {"vendor": "AMD", "model": "EPYC-Rome"}, {}, Reason.CPU_VENDOR),
    ("cpu-vendor", {}, {"vendor": "intel"}, {"vendor": "Intel"}, None),
    ("cpu-model", {}, {"model": "IvyBridge-IBRS"}, {"model": "Skylake-Server"}, Reason.CPU_MODEL),
    ("cpu-model", {}, {"model": "Icelake-Server"}, {"model": "Skylake-Server-IBRS"}, None),
    ("cpu-model", {}, {"model": "IvyBridge"}, {"model": "qemu64"}, None),
    (
        "cpu-model",
        {},
        {"model": "Haswell", "models": ("Haswell", "Skylake-Server")},
        {"model": "Skylake-Server"},
        None,
    ),
    (
        "cpu-model",
        {},
        {"model": "Icelake-Server", "models": ("Haswell",)},
        {"model": "Skylake-Server"},
        Reason.CPU_MODEL,
    ),
    ("cpu-model", {}, {"vendor": "AMD", "model": "EPYC-Milan"}, {"model": "EPYC-Rome"}, None),
    ("cpu-model", {}, {"model": "EPYC-Milan"}, {"model": "Skylake-Server"}, Reason.CPU_MODEL),
    (
        "cpu-features",
        {},
        {"features": ("avx2",)},
        {"features": ("avx2", "avx512f")},
        Reason.CPU_FEATURES,
    ),
    ("cpu-features", {}, {"features": ("avx2", "avx512f")}, {"features": ("avx512f",)}, None),
    # The domain type decides which models and features count (the lab's TCG guests).
    ("cpu-model", {}, {"hypervisors": TCG}, {**WESTMERE, "virt_type": "qemu"}, None),
    ("cpu-features", {}, {"hypervisors": TCG}, {**WESTMERE, "virt_type": "qemu"}, None),
    ("cpu-model", {}, {"hypervisors": TCG}, {**WESTMERE, "virt_type": "kvm"}, Reason.CPU_MODEL),
    (
        "cpu-features",
        {},
        {"hypervisors": TCG},
        {**WESTMERE, "virt_type": "kvm"},
        Reason.CPU_FEATURES,
    ),
    (
        "cpu-model",
        {},
        {"hypervisors": {"kvm": TCG["kvm"]}},
        {"virt_type": "qemu"},
        Reason.CPU_MODEL,
    ),
    # host-passthrough: the same CPU, no feature more or less.
    ("cpu-model", {}, {"physical": MILAN}, PASSTHROUGH, None),
    ("cpu-features", {}, {"physical": MILAN}, PASSTHROUGH, None),
    ("cpu-model", {}, {}, PASSTHROUGH, Reason.CPU_MODEL),
    (
        "cpu-model",
        {},
        {"physical": PhysicalCpu(vendor="AMD", model="EPYC-Rome", features=("avx2", "sse4.2"))},
        PASSTHROUGH,
        Reason.CPU_MODEL,
    ),
    (
        "cpu-features",
        {},
        {"physical": PhysicalCpu(vendor="AMD", model="EPYC-Milan", features=("avx2",))},
        PASSTHROUGH,
        Reason.CPU_FEATURES,
    ),
    (
        "cpu-features",
        {},
        {
            "physical": PhysicalCpu(
                vendor="AMD", model="EPYC-Milan", features=("avx2", "sse4.2", "x")
            )
        },
        PASSTHROUGH,
        Reason.CPU_FEATURES,
    ),
    # host-model: shut off, it takes the destination's; running, the CPU it was given.
    (
        "cpu-model",
        {},
        {"hypervisors": TCG},
        {
            "model": "Icelake-Server",
            "cpu_mode": "host-model",
            "virt_type": "qemu",
            "state": "shutoff",
        },
        None,
    ),
    (
        "cpu-features",
        {},
        {"hypervisors": TCG},
        {
            "features": ("avx512f",),
            "cpu_mode": "host-model",
            "virt_type": "qemu",
            "state": "shutoff",
        },
        None,
    ),
    (
        "cpu-features",
        {},
        {"hypervisors": TCG},
        {**WESTMERE, "features": ("avx512f",), "cpu_mode": "host-model", "virt_type": "qemu"},
        Reason.CPU_FEATURES,
    ),
    ("passthrough", {}, {}, {"devices": Devices(hostdev=1)}, Reason.PASSTHROUGH),
    ("passthrough", {}, {}, {"devices": Devices(sriov=2)}, Reason.PASSTHROUGH),
    ("passthrough", {}, {}, {"devices": Devices(mdev=1)}, Reason.PASSTHROUGH),
    ("passthrough", {}, {}, {}, None),
    ("numa", {"numa_nodes": 2}, {"numa_nodes": 1}, {"numa_pinned": True}, Reason.NUMA),
    ("numa", {"numa_nodes": 2}, {"numa_nodes": 2}, {"numa_pinned": True}, None),
    ("numa", {"numa_nodes": 4}, {"numa_nodes": 1}, {"numa_pinned": False}, None),
    ("storage", {}, {}, {"disks": SHARED}, None),
    ("storage", {}, {"storage_pools": ("other",)}, {"disks": SHARED}, Reason.STORAGE_POOL),
    # A host-local disk is copied to the destination's pool of the same name (default
    # policy: copies allowed up to 64 GiB).
    (
        "storage",
        {"storage_pools": ("local",)},
        {"storage_pools": ("local",)},
        {"disks": LOCAL},
        None,
    ),
    (
        "storage",
        {"storage_pools": ("local",)},
        {"storage_pools": ("local",)},
        {"disks": LOCAL, "state": "paused"},
        None,
    ),
    (
        "storage",
        {"storage_pools": ("local",)},
        {"storage_pools": ("local",)},
        {"disks": LOCAL, "state": "shutoff"},
        None,
    ),
    (
        "storage",
        {"storage_pools": ("local",)},
        {"storage_pools": ("x",)},
        {"disks": LOCAL, "state": "shutoff"},
        Reason.STORAGE_POOL,
    ),
    ("network", {}, {"networks": ("br1",)}, {"networks": ("br0",)}, Reason.NETWORK),
    ("network", {}, {"networks": ("br0", "br1")}, {"networks": ("br0", "br1")}, None),
    ("version-path", {"qemu": "8.2.0"}, {"qemu": "9.0.0"}, {}, Reason.VERSION),
    ("version-path", {"qemu": "8.2.0"}, {"qemu": "8.0.1-11.el9"}, {}, None),
    ("version-path", {"libvirt": "10.0.0"}, {"libvirt": "9.10.0"}, {}, Reason.VERSION),
    (
        "machine-type",
        {},
        {"machine_types": ("pc-q35-rhel9.4.0",)},
        {"machine_type": "pc-q35-rhel9.2.0"},
        Reason.MACHINE_TYPE,
    ),
    ("machine-type", {}, {"machine_types": ("q35", "pc")}, {"machine_type": "q35"}, None),
    ("capacity", {}, {"cores": 4, "cpu_used": 3.5}, {"cpu_used": 1.0}, Reason.CPU_CAPACITY),
    ("capacity", {}, {"cores": 4, "cpu_used": 3.0}, {"cpu_used": 1.0}, None),
    ("capacity", {}, {"cores": 8}, {"cpu_used": 1.0}, None),
    ("capacity", {}, {"memory_mib": 4096}, {"memory_mib": 4096}, Reason.MEMORY_CAPACITY),
    ("capacity", {}, {"memory_mib": 4608}, {"memory_mib": 4096}, None),
]


def _context(
    src_kw: dict[str, Any],
    dst_kw: dict[str, Any],
    vm_kw: dict[str, Any],
    rules: tuple[Any, ...] = (),
    **policy: Any,
) -> tuple[FilterContext, Any, Any]:
    src = host("src", **src_kw)
    dst = host("dst", **dst_kw)
    guest = vm("v", "src", **vm_kw)
    others = [
        vm("a", "dst", cpu_used=0.0, memory_mib=1),
        vm("b", "src", cpu_used=0.0, memory_mib=1),
    ]
    snap = snapshot([src, dst], [guest, *others], rules, **policy)
    state = ClusterState(snap, snap.policy)
    return FilterContext(state, RuleIndex.build(rules), snap.policy), guest, dst


@pytest.mark.parametrize(("name", "src_kw", "dst_kw", "vm_kw", "expected"), CASES)
def test_filter(
    name: str,
    src_kw: dict[str, Any],
    dst_kw: dict[str, Any],
    vm_kw: dict[str, Any],
    expected: Reason | None,
) -> None:
    ctx, guest, dst = _context(src_kw, dst_kw, vm_kw, headroom=0.0)
    verdict = REGISTRY[name].check(guest, dst, ctx)
    assert verdict.reason == expected, verdict.detail
    assert verdict.ok is (expected is None)
    if expected is not None:
        assert verdict.detail  # a rejection always says why


@pytest.mark.parametrize(
    ("policy", "state", "disk_gib", "expected"),
    [
        ({"allow_storage_copy": False}, "running", 1, "the policy forbids storage copies"),
        ({"allow_storage_copy": False}, "shutoff", 1, "the policy forbids storage copies"),
        ({"storage_copy_max_gib": 2}, "running", 3,
         "3.0 GiB exceed the policy's storage copy limit (2 GiB)"),
        ({"storage_copy_max_gib": 2}, "shutoff", 2, None),
    ],
)  # fmt: skip
def test_storage_copies_follow_the_policy(
    policy: dict[str, Any], state: str, disk_gib: int, expected: str | None
) -> None:
    disks = (Disk(pool="local", shared=False, bytes=disk_gib << 30), *SHARED)
    ctx, guest, dst = _context({"storage_pools": ("local", "shared")},
                               {"storage_pools": ("local", "shared")},
                               {"disks": disks, "state": state}, **policy)  # fmt: skip
    verdict = REGISTRY["storage"].check(guest, dst, ctx)
    if expected is None:
        assert verdict.ok, verdict.detail
    else:
        assert verdict.reason is Reason.STORAGE_NOT_SHARED
        assert expected in verdict.detail


def test_a_network_renamed_on_the_destination_passes() -> None:
    rewrite = {"dst": XmlRewrite(networks={"br0": "br-mig"})}
    ctx, guest, dst = _context({}, {"networks": ("br-mig",)}, {"networks": ("br0",)},
                               destination_xml=rewrite)  # fmt: skip
    assert REGISTRY["network"].check(guest, dst, ctx).ok
    ctx, guest, dst = _context({}, {"networks": ("br0",)}, {"networks": ("br0",)},
                               destination_xml=rewrite)  # fmt: skip
    verdict = REGISTRY["network"].check(guest, dst, ctx)
    assert verdict.reason is Reason.NETWORK
    assert "br-mig" in verdict.detail


def test_headroom_is_kept_free() -> None:
    ctx, guest, dst = _context({}, {"cores": 10, "cpu_used": 8.5}, {"cpu_used": 1.0}, headroom=0.1)
    verdict = REGISTRY["capacity"].check(guest, dst, ctx)
    assert verdict.reason is Reason.CPU_CAPACITY  # 9.5 of 10 cores > 90 %


def test_cpu_only_mode_ignores_memory() -> None:
    ctx, guest, dst = _context(
        {}, {"memory_mib": 1024}, {"memory_mib": 4096}, capacity_mode="cpu-only"
    )
    assert REGISTRY["capacity"].check(guest, dst, ctx).ok


def test_evacuated_host_receives_nothing() -> None:
    ctx, guest, dst = _context({}, {}, {}, evacuate_hosts=("dst",))
    assert REGISTRY["host-state"].check(guest, dst, ctx).reason is Reason.HOST_NOT_ACTIVE


def test_same_host_is_not_a_move() -> None:
    ctx, guest, _ = _context({}, {}, {})
    src = ctx.state.hosts[ctx.state.host_index["src"]]
    assert REGISTRY["same-host"].check(guest, src, ctx).reason is Reason.SAME_HOST


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (PinRule(vm="v", hosts=("src",)), Reason.PIN),
        (PinRule(vm="v", hosts=("dst", "src")), None),
        (AntiAffinityRule(vms=("v", "a")), Reason.ANTI_AFFINITY),
        (AntiAffinityRule(vms=("v", "a"), hard=False), None),
        (AntiAffinityRule(vms=("v", "b")), None),
        (AffinityRule(vms=("v", "b")), Reason.AFFINITY),
        (AffinityRule(vms=("v", "a")), None),
        (AffinityRule(vms=("v", "b"), hard=False), None),
    ],
)
def test_rules(rule: Any, expected: Reason | None) -> None:
    ctx, guest, dst = _context({}, {}, {}, rules=(rule,))
    verdicts = [f.check(guest, dst, ctx) for f in REGISTRY.values() if f.NAME != "same-host"]
    reasons = {v.reason for v in verdicts if not v.ok}
    assert reasons == ({expected} if expected else set())
