"""The destination must have every network the guest uses, or the guest loses its
network after migrating (guide 12.6) — under the name the policy's destination XML
rewrite gives it there (``policy.destination_xml[dest].networks``), if any."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import PASS, Reason, Verdict


def offered_networks(host: Host, policy: Policy) -> Hashable:
    """The host's networks, and the names the policy's destination XML rewrite maps."""
    rewrite = policy.destination_xml.get(host.name)
    return frozenset(host.networks), tuple(sorted(rewrite.networks.items())) if rewrite else None


class NetworkFilter:
    NAME: ClassVar[str] = "network"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(vm=("networks",), dest=(offered_networks,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        rewrite = ctx.policy.destination_xml.get(dest.name)
        renamed = rewrite.networks if rewrite is not None else {}
        missing = sorted({renamed.get(n, n) for n in vm.networks} - set(dest.networks))
        if missing:
            return Verdict.reject(Reason.NETWORK, f"{dest.name} lacks network {', '.join(missing)}")
        return PASS
