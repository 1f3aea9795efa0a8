"""The simulated hypervisor's clock and guests (unit tests and ``BALANCER_HYPERVISOR=sim``)."""

from __future__ import annotations

from dataclasses import dataclass

from workers.executor.hypervisor import DomState, MigrationMark


class SimClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


@dataclass
class SimVm:
    memory_mib: int
    dirty_mib_s: float = 0.0
    working_set_mib: float = 64.0
    state: DomState = "running"
    cpu_ok_on: frozenset[str] | None = None  # None: every host accepts its CPU
    #: Non-zero memory (the rest is zero pages, sent as flags); None: all of it.
    resident_mib: float | None = None
    #: Storage pools of its disks, network disks, disks in no pool, libvirt networks.
    pools: tuple[str, ...] = ()
    remote_disks: tuple[str, ...] = ()
    unpooled: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    #: Written by ``mark_migrated`` on the destination (libvirt: the domain's metadata).
    mark: MigrationMark | None = None
