"""The seam between the executor and a hypervisor: a small Protocol, two implementations
(``libvirt_hv.LibvirtHypervisor``, ``simulated.SimulatedHypervisor``)."""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

from balancer.core.migration_model import Mode

DomState = Literal["running", "paused", "shutoff", "other"]
#: The libvirt metadata namespace (and its prefix) of ``mark_migrated``.
MIGRATION_NAMESPACE = "https://kvm-balancer.dev/migration/1"
MIGRATION_PREFIX = "kvmb"


class Domain(msgspec.Struct, frozen=True, kw_only=True):
    """What one host knows of a VM."""

    state: DomState
    persistent: bool
    #: A migration (or another job) runs on this domain now.
    job_active: bool = False


class JobSample(msgspec.Struct, frozen=True, kw_only=True):
    """One poll of a running migration job (libvirt ``jobStats()``, in bytes)."""

    elapsed_ms: int = 0
    total: int = 0
    processed: int = 0
    remaining: int = 0
    iteration: int = 0
    dirty_rate_pages_s: int = 0
    page_size: int = 4096
    bandwidth_bytes_s: int = 0
    expected_downtime_ms: int = 0
    postcopy: bool = False

    @property
    def percent(self) -> float:
        return 100.0 * self.processed / self.total if self.total else 0.0


class MigrationMark(msgspec.Struct, frozen=True, kw_only=True):
    """Which migration moved a VM here, under which fencing epoch (``mark_migrated``)."""

    epoch: int | None
    id: str
    plan: str


class Completed(msgspec.Struct, frozen=True, kw_only=True):
    """The statistics of a completed migration (read on the destination)."""

    elapsed_ms: int
    downtime_ms: int
    bytes: int
    #: Guest memory size and what of it QEMU sent as zero pages (``memory_constant`` ×
    #: page size); 0 when unknown.
    memory_total: int = 0
    zero_bytes: int = 0

    @property
    def nonzero_bytes(self) -> int | None:
        """The guest's non-zero memory as this migration found it (``None``: unknown)."""
        return self.memory_total - self.zero_bytes if self.memory_total else None


class Attachments(msgspec.Struct, frozen=True, kw_only=True):
    """What a VM needs from a host besides CPU and memory, read live from its definition."""

    #: libvirt storage pools holding its disks (a network disk's, when one has its image
    #: pool as ``<source><name>``).
    pools: tuple[str, ...] = ()
    #: Network disks in no pool (``<protocol>:<image pool>``, named as the agent does).
    remote_disks: tuple[str, ...] = ()
    #: Paths of file or block disks in no libvirt pool.
    unpooled: tuple[str, ...] = ()
    #: libvirt networks its interfaces are on.
    networks: tuple[str, ...] = ()


class HostResources(msgspec.Struct, frozen=True, kw_only=True):
    """The active storage pools and networks of a host (asked live)."""

    pools: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()


class MigrationRun(Protocol):
    """A migration started in the background."""

    def done(self) -> bool: ...

    def result(self) -> None:
        """Return once done; raise ``MigrationAbortedError`` if the migration failed."""


class Hypervisor(Protocol):
    def domain(self, host: str, vm: str) -> Domain | None:
        """The VM on ``host``, or ``None`` if that host does not know it."""

    def domains(self, host: str) -> tuple[str, ...]:
        """Every domain defined or running on ``host`` (asked live, not from a store)."""

    def accepts_cpu(self, vm: str, source: str, dest: str) -> bool:
        """Whether ``dest`` can run the VM's CPU (``compareHypervisorCPU``)."""

    def attachments(self, host: str, vm: str) -> Attachments:
        """The VM's disk pools and networks on ``host``."""

    def resources(self, host: str) -> HostResources:
        """The active storage pools and networks of ``host``."""

    def start(
        self,
        vm: str,
        source: str,
        dest: str,
        mode: Mode,
        *,
        bandwidth_mib_s: float | None,
        max_downtime_ms: int,
        postcopy: bool,
        copy_storage: bool,
    ) -> MigrationRun: ...

    def job(self, host: str, vm: str) -> JobSample | None:
        """The running job of the VM on ``host``; ``None`` when there is none."""

    def completed(self, host: str, vm: str) -> Completed | None:
        """Stats of the last completed migration of the VM, on its destination."""

    def set_max_downtime(self, host: str, vm: str, ms: int) -> None: ...

    def start_postcopy(self, host: str, vm: str) -> None: ...

    def suspend(self, host: str, vm: str) -> None: ...

    def resume(self, host: str, vm: str) -> None: ...

    def abort(self, host: str, vm: str) -> None: ...

    def mark_migrated(
        self, host: str, vm: str, *, epoch: int | None, migration_id: str, plan_id: str
    ) -> None:
        """Record in the VM's definition on ``host`` (its destination) which migration
        moved it, under which fencing epoch: libvirt metadata ``<kvmb:migration epoch=
        id= plan=/>`` in the ``MIGRATION_NAMESPACE``, live and persistent."""
