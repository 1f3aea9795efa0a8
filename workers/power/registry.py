"""Every power driver, in one explicit dict; ``build`` makes one from its JSON spec."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from balancer.errors import InputError
from workers.power.driver import PowerDriver
from workers.power.ipmi import Ipmi
from workers.power.ssh import SshSystemd
from workers.power.wol import WakeOnLan


def _lab(spec: Mapping[str, str]) -> PowerDriver:
    """A lab host's libvirtd (``balancer lab demo``); the lab's code is imported only by
    a worker configured with it, never by one that powers real hosts."""
    from balancer.lab.power import LabPower  # noqa: PLC0415

    return LabPower.from_spec(spec)


DRIVERS: dict[str, Callable[[Mapping[str, str]], PowerDriver]] = {
    Ipmi.NAME: Ipmi.from_spec,
    WakeOnLan.NAME: WakeOnLan.from_spec,
    SshSystemd.NAME: SshSystemd.from_spec,
    "lab": _lab,
}


def build(spec: Mapping[str, str]) -> PowerDriver:
    """A driver from ``{"kind": "ipmi"|"wol"|"ssh"|"lab", ...}``."""
    kind = spec.get("kind", "")
    if kind not in DRIVERS:
        raise InputError(f"unknown power driver {kind!r} (one of {sorted(DRIVERS)})", "power.kind")
    return DRIVERS[kind](spec)
