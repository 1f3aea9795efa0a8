"""Every power driver, in one explicit dict; ``build`` makes one from its JSON spec."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from balancer.errors import InputError
from balancer.lab.power import LabPower
from workers.power.driver import PowerDriver
from workers.power.ipmi import Ipmi
from workers.power.ssh import SshSystemd
from workers.power.wol import WakeOnLan

DRIVERS: dict[str, Callable[[Mapping[str, str]], PowerDriver]] = {
    Ipmi.NAME: Ipmi.from_spec,
    WakeOnLan.NAME: WakeOnLan.from_spec,
    SshSystemd.NAME: SshSystemd.from_spec,
    LabPower.NAME: LabPower.from_spec,  # a lab host's libvirtd (balancer lab demo)
}


def build(spec: Mapping[str, str]) -> PowerDriver:
    """A driver from ``{"kind": "ipmi"|"wol"|"ssh"|"lab", ...}``."""
    kind = spec.get("kind", "")
    if kind not in DRIVERS:
        raise InputError(f"unknown power driver {kind!r} (one of {sorted(DRIVERS)})", "power.kind")
    return DRIVERS[kind](spec)
