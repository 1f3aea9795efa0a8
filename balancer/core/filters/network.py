"""The destination must have every network the guest uses, or the guest loses its
network after migrating (guide 12.6) — under the name the policy's destination XML
rewrite gives it there (``policy.destination_xml[dest].networks``), if any."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class NetworkFilter:
    NAME: ClassVar[str] = "network"
    KIND: ClassVar[FilterKind] = "host"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        rewrite = ctx.policy.destination_xml.get(dest.name)
        renamed = rewrite.networks if rewrite is not None else {}
        missing = sorted({renamed.get(n, n) for n in vm.networks} - set(dest.networks))
        if missing:
            return Verdict.reject(Reason.NETWORK, f"{dest.name} lacks network {', '.join(missing)}")
        return PASS
