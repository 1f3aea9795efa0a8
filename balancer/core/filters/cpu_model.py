"""The guest's CPU model must be one the destination's hypervisor can provide
(guide 12.4), for the domain type the guest runs as (``kvm`` or ``qemu``: each has its
own usable models, as libvirt's domain capabilities of that type say). The offer's
``models`` list decides; without it, the built-in x86 generations do: a model runs on a
host of the same vendor line whose own model is of the same or a later generation.

By ``<cpu mode>``: ``host-passthrough`` needs the destination's own CPU to be the same
model and vendor (the features are ``cpu-features``' business); a shut-off
``host-model`` guest takes the destination's host-model when it starts (any host that
runs its domain type will do); a running ``host-model`` guest is judged by the CPU it
was given, like a named model.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.filters.facts import host_cpu
from balancer.core.models import Host, HypervisorCpu, Vm
from balancer.core.reasons import PASS, Reason, Verdict

#: Models any x86 host provides.
GENERIC = frozenset({"qemu64", "qemu32", "kvm64", "kvm32", "core2duo", "pentium", "486"})

#: QEMU's named x86 models by vendor line, oldest first.
LINEAGE: dict[str, tuple[str, ...]] = {
    "intel": (
        "Conroe",
        "Penryn",
        "Nehalem",
        "Westmere",
        "SandyBridge",
        "IvyBridge",
        "Haswell",
        "Broadwell",
        "Skylake-Client",
        "Skylake-Server",
        "Cascadelake-Server",
        "Cooperlake",
        "Icelake-Server",
        "SapphireRapids",
        "GraniteRapids",
    ),
    "amd": (
        "Opteron_G1",
        "Opteron_G2",
        "Opteron_G3",
        "Opteron_G4",
        "Opteron_G5",
        "EPYC",
        "EPYC-Rome",
        "EPYC-Milan",
        "EPYC-Genoa",
    ),
}
_RANK = {m.lower(): (line, i) for line, ms in LINEAGE.items() for i, m in enumerate(ms)}
_VARIANT = re.compile(r"(-v\d+|-IBRS|-noTSX|-IBPB)+$", re.IGNORECASE)


def base_model(name: str) -> str:
    """``Skylake-Client-noTSX-IBRS`` → ``skylake-client`` (variants share a generation)."""
    return _VARIANT.sub("", name).lower()


def provides(offer: HypervisorCpu, guest_model: str) -> bool:
    if offer.models is not None:
        return guest_model in offer.models or base_model(guest_model) in GENERIC
    guest, own = base_model(guest_model), base_model(offer.model)
    if guest in GENERIC or guest == own:
        return True
    if guest in _RANK and own in _RANK:
        (g_line, g_rank), (h_line, h_rank) = _RANK[guest], _RANK[own]
        return g_line == h_line and g_rank <= h_rank
    return False


class CpuModelFilter:
    NAME: ClassVar[str] = "cpu-model"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(vm=("cpu", "state"), dest=(host_cpu,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        cpu = vm.cpu
        if cpu.mode == "host-passthrough":
            own = dest.cpu.physical
            if own is None:
                why = "(a host-passthrough guest needs the same CPU)"
                return Verdict.reject(Reason.CPU_MODEL, f"{dest.name}'s own CPU is unknown {why}")
            if (own.model, own.vendor.lower()) != (cpu.model, cpu.vendor.lower()):
                theirs = f"{dest.name} is a {own.vendor} {own.model}"
                why = f"host-passthrough guest of a {cpu.vendor} {cpu.model} host; {theirs}"
                return Verdict.reject(Reason.CPU_MODEL, why)
            return PASS
        offer = dest.cpu.offer(cpu.virt_type)
        if offer is None:
            return Verdict.reject(
                Reason.CPU_MODEL, f"{dest.name} cannot run {cpu.virt_type} domains"
            )
        if cpu.mode == "host-model" and vm.state == "shutoff":
            return PASS  # it takes the destination's host-model when it starts
        if not provides(offer, cpu.model):
            return Verdict.reject(Reason.CPU_MODEL, f"{dest.name} ({offer.model}, {cpu.virt_type}) "
                                  f"cannot provide {cpu.model}")  # fmt: skip
        return PASS
