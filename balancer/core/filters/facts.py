"""Facts several ``host`` constraints read (declared as the same function, read once)."""

from __future__ import annotations

from collections.abc import Hashable

from balancer.core.models import Host, Policy


def host_cpu(host: Host, policy: Policy) -> Hashable:
    """Everything the CPU constraints read of a host's CPU (its core count aside)."""
    c = host.cpu
    return (
        tuple(sorted(c.hypervisors.items())),
        c.physical,
        c.vendor.lower(),
        c.model,
        c.models,
        frozenset(c.features),
    )
