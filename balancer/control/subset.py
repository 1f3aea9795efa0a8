"""The snapshot a decision hands to ``plan()``: narrowed to the hosts it concerns
(``balancer.core.subset.restrict``), under the decision's policy (``under``)."""

from __future__ import annotations

import math

import msgspec

from balancer.core.models import Policy, Snapshot
from balancer.core.subset import restrict

__all__ = ["restrict", "under"]


def under(view: Snapshot, policy: Policy, memory_headroom: float) -> Snapshot:
    """``view`` under ``policy``, keeping ``memory_headroom`` of each host's memory free
    where the planner would keep ``policy.headroom``: memory is allocated to VMs, it does
    not burst the way CPU does, so it needs no CPU-sized margin. Each host's memory is
    scaled for the planner's arithmetic (rounded up: sums of whole MiB still fit)."""
    scale = (1.0 - memory_headroom) / (1.0 - policy.headroom)
    if policy.capacity_mode == "cpu-only" or math.isclose(scale, 1.0):
        return msgspec.structs.replace(view, policy=policy)
    hosts = tuple(
        msgspec.structs.replace(h, memory_mib=math.ceil(h.memory_mib * scale)) for h in view.hosts
    )
    return msgspec.structs.replace(view, hosts=hosts, policy=policy)
