"""The seam between the executor and a hypervisor: a small Protocol, three implementations
(``libvirt_hv.LibvirtHypervisor``, ``simulated.SimulatedHypervisor``,
``fleet_hv.FleetHypervisor``)."""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec

from balancer.core.migration_model import Mode
from balancer.core.models import Compression, XmlRewrite

DomState = Literal["running", "paused", "shutoff", "other"]
#: The libvirt metadata namespace (and its prefix) of ``mark_migrated``.
MIGRATION_NAMESPACE = "https://kvm-balancer.dev/migration/1"
MIGRATION_PREFIX = "kvmb"
MIB = 1024 * 1024


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
    #: Storage migration: disk bytes to copy and copied so far.
    disk_total: int = 0
    disk_processed: int = 0
    #: How much QEMU's auto-converge throttles the guest's vCPUs now (0: not at all).
    throttle_percent: int = 0

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
    #: Set-up time of the job (before any data went out), ms.
    setup_ms: int = 0
    #: Disk bytes copied (storage migration, or an offline move's volume streams).
    disk_bytes: int = 0

    @property
    def bandwidth_mib_s(self) -> float | None:
        """Bytes over the transfer time (elapsed less set-up); ``None`` when too short to
        tell (under 0.2 s) or nothing was sent."""
        transfer_s = (self.elapsed_ms - self.setup_ms) / 1000
        if transfer_s < 0.2 or self.bytes <= 0:
            return None
        return self.bytes / MIB / transfer_s

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
    #: Target devices of its disks (``vda``, …): what verification expects on the other side.
    targets: tuple[str, ...] = ()


class HostResources(msgspec.Struct, frozen=True, kw_only=True):
    """The active storage pools and networks of a host (asked live)."""

    pools: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()


class StartOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How a migration is carried beyond its mode: the link, the transport, the
    destination's definition, what QEMU may do to help it converge."""

    #: Where the source sends the data (``VIR_MIGRATE_PARAM_URI``: a dedicated network,
    #: ``tcp://10.1.0.12``); "": libvirt's default, the destination's own address.
    migration_uri: str = ""
    tls: bool = False
    #: Parallel connections (``VIR_MIGRATE_PARALLEL``); 1: one stream.
    connections: int = 1
    compression: Compression = "none"
    #: Arm QEMU's auto-converge (throttle 20 % up to 99 %, in steps of 10).
    auto_converge: bool = False
    #: Path prefixes and network names to change in the destination's definition.
    rewrite: XmlRewrite | None = None
    #: Pools the plan counted as shared: disks elsewhere are copied (``copy_storage``).
    shared_pools: tuple[str, ...] = ()


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

    def cpu_refusal(self, vm: str, source: str, dest: str) -> str:
        """Why ``dest`` cannot run the VM's CPU ("" when it can): a named CPU as libvirt's
        ``compareHypervisorCPU`` judges it for the VM's domain type, naming the missing
        features; host-passthrough: the hosts' CPUs must be the same; host-model: the
        destination's host-model must cover the CPU the guest was given."""

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
        options: StartOptions | None = None,
    ) -> MigrationRun:
        """Start the migration in the background. An offline move with ``copy_storage``
        defines the VM on ``dest``, creates its volumes there and streams the disks,
        checksums compared; the source keeps its definition and volumes until
        ``remove_source``."""

    def job(self, host: str, vm: str) -> JobSample | None:
        """The running job of the VM on ``host``; ``None`` when there is none."""

    def completed(self, host: str, vm: str) -> Completed | None:
        """Stats of the last completed migration of the VM, on its destination."""

    def set_max_downtime(self, host: str, vm: str, ms: int) -> None: ...

    def start_postcopy(self, host: str, vm: str) -> None: ...

    def suspend(self, host: str, vm: str) -> None: ...

    def resume(self, host: str, vm: str) -> None: ...

    def abort(self, host: str, vm: str) -> None: ...

    def remove_source(
        self, vm: str, source: str, dest: str, shared_pools: tuple[str, ...]
    ) -> tuple[str, ...]:
        """After a verified move with a storage copy: undefine the VM on ``source`` if it
        is still defined there (not running), and delete there the volumes of its disks
        that are in no pool of ``shared_pools`` (as ``dest``'s definition names them: the
        copies left behind). Returns the volumes deleted (``pool/name``)."""

    def mark_migrated(
        self, host: str, vm: str, *, epoch: int | None, migration_id: str, plan_id: str
    ) -> None:
        """Record in the VM's definition on ``host`` (its destination) which migration
        moved it, under which fencing epoch: libvirt metadata ``<kvmb:migration epoch=
        id= plan=/>`` in the ``MIGRATION_NAMESPACE``, live and persistent."""
