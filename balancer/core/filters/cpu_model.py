"""The guest's CPU model must be one the destination's hypervisor can provide
(guide 12.4). The host's ``cpu.models`` list (libvirt domain capabilities, usable
models) decides; without it, the built-in x86 generations do: a model runs on a host of
the same vendor line whose own model is of the same or a later generation."""

from __future__ import annotations

import re
from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
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


def provides(host: Host, guest_model: str) -> bool:
    if host.cpu.models is not None:
        return guest_model in host.cpu.models or base_model(guest_model) in GENERIC
    guest, own = base_model(guest_model), base_model(host.cpu.model)
    if guest in GENERIC or guest == own:
        return True
    if guest in _RANK and own in _RANK:
        (g_line, g_rank), (h_line, h_rank) = _RANK[guest], _RANK[own]
        return g_line == h_line and g_rank <= h_rank
    return False


class CpuModelFilter:
    NAME: ClassVar[str] = "cpu-model"
    KIND: ClassVar[FilterKind] = "host"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        if not provides(dest, vm.cpu.model):
            return Verdict.reject(
                Reason.CPU_MODEL, f"{dest.name} ({dest.cpu.model}) cannot provide {vm.cpu.model}"
            )
        return PASS
