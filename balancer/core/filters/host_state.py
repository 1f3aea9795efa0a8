"""Only an ``active`` host receives VMs (not maintenance, draining, off or failed)."""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import PASS, Reason, Verdict


def evacuating(host: Host, policy: Policy) -> bool:
    return host.name in policy.evacuate_hosts


class HostStateFilter:
    NAME: ClassVar[str] = "host-state"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(dest=("state", evacuating))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        if dest.state != "active":
            return Verdict.reject(Reason.HOST_NOT_ACTIVE, f"{dest.name} is {dest.state}")
        if dest.name in ctx.policy.evacuate_hosts:
            return Verdict.reject(Reason.HOST_NOT_ACTIVE, f"{dest.name} is being evacuated")
        return PASS
