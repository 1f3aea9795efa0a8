"""The power driver of a simulated fleet host (``balancer fleet sim``): every worker in
fleet mode powers every host with it (``Runtime.power_driver``).

Power-off is refused while the host has a VM, or a migration from or to it is under way
(checked with the switch in one atomic script; the guarded action in
``workers.power.actions`` has asked ``hv.domains`` first, as on real hosts). Power-on of
an off host makes it boot: it reports again after the fleet's boot time (fleet seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from balancer.errors import PermanentError, PowerRefusedError, RetryableError
from balancer.fleet.store import FleetStore


@dataclass(frozen=True)
class SimPower:
    NAME = "sim"
    host: str
    store: FleetStore
    clock: Callable[[], float]

    def power_on(self) -> None:
        boot_s = self.store.info().config.boot_s
        if self.store.power_on(self.host, self.clock(), boot_s) == "unknown":
            raise PermanentError(f"no simulated host {self.host!r}")

    def power_off(self) -> None:
        verdict, count = self.store.power_off(self.host, self.clock())
        if verdict == "has-vms":
            raise PowerRefusedError(f"{self.host} still has {count} VM(s)")
        if verdict == "migrating":
            raise RetryableError(f"{self.host}: a migration from or to it is under way")
        if verdict == "unknown":
            raise PermanentError(f"no simulated host {self.host!r}")
