"""Small facts about hosts the intents share: utilization now, capacity per watt, and
the order in which off hosts are powered on."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from balancer.control.power import power_table
from balancer.core.models import Host

#: Tolerance of utilization comparisons (float sums drift).
EPS = 1e-9


def util(host: Host) -> float:
    """CPU demand now / capacity."""
    return host.cpu_used / host.cpu_capacity_cores


def per_watt(host: Host) -> float:
    """Capacity per watt at full load: which off host to switch on first."""
    peak = power_table(host)[-1]
    return host.cpu_capacity_cores / peak if peak > 0 else host.cpu_capacity_cores


def spares(hosts: Iterable[Host], allowed: Collection[str] | None = None) -> list[Host]:
    """Off hosts (of ``allowed``, when given), the most capacity per watt first (then by
    name)."""
    return sorted(
        (h for h in hosts if h.state == "off" and (allowed is None or h.name in allowed)),
        key=lambda h: (-per_watt(h), h.name),
    )
