"""The snapshot: one consistent picture of a cluster at one instant (format v1).

Frozen msgspec structs: decoding a document validates types and names the offending path;
``balancer.core.validate`` then checks what types cannot (unknown hosts, duplicates, ...).
Field names are the documented interchange format (docs/snapshot-format.md); optional
fields have defaults so a small document stays small.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

#: Bounds of every number a snapshot or a policy carries: far beyond any real cluster,
#: yet small enough that the planner's arithmetic stays finite and exact (an integer of
#: 2**1024 cannot become a float; 1e308 CPUs would overflow a sum to infinity).
MAX_COUNT = 2**20  # cores, vCPUs, NUMA nodes, devices, slots, migrations
MAX_MIB = 2**32  # 4 PiB of memory, in MiB
MAX_BYTES = 2**62
MAX_AMOUNT = 1e12  # any other quantity: CPU used, MiB/s, watts, seconds, Unix time
MAX_DOWNTIME_MS = 3_600_000
MAX_GENERATION = 2**63 - 1
#: Longest name (a DNS name's length).
MAX_NAME = 253

NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]
PosInt = Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT)]
Mib = Annotated[int, msgspec.Meta(ge=1, le=MAX_MIB)]
NonNegMib = Annotated[int, msgspec.Meta(ge=0, le=MAX_MIB)]
NonNegFloat = Annotated[float, msgspec.Meta(ge=0, le=MAX_AMOUNT)]
PosFloat = Annotated[float, msgspec.Meta(gt=0, le=MAX_AMOUNT)]
Fraction = Annotated[float, msgspec.Meta(ge=0, lt=1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)]

HostState = Literal["active", "maintenance", "draining", "off", "failed"]
VmState = Literal["running", "paused", "shutoff"]
#: An objective's name: one of ``balancer.core.objectives.REGISTRY`` (checked on decoding;
#: the JSON Schema lists them).
Objective = Name
CapacityMode = Literal["cpu+memory", "cpu-only"]
GuestCpuMode = Literal["custom", "host-model", "host-passthrough"]
LadderRung = Literal["downtime", "auto-converge", "postcopy", "suspend"]
Compression = Literal["none", "xbzrle", "zlib", "zstd"]

#: Host states whose VMs must leave (whatever the objective).
EMPTYING_STATES: frozenset[str] = frozenset({"maintenance", "draining"})


class Model(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every snapshot struct: immutable, keyword-only, unknown fields rejected."""


class HypervisorCpu(Model, frozen=True, kw_only=True):
    """What one domain type (``kvm``, ``qemu``) offers guests on a host: its host-model
    CPU and the named models it can run (libvirt domain capabilities of that type)."""

    vendor: Name
    model: Name
    #: Every feature of the host-model CPU, expanded, in libvirt's names.
    features: tuple[str, ...] = ()
    #: Named guest CPU models usable with this domain type (``usable='yes'``).
    models: tuple[str, ...] | None = None


class PhysicalCpu(Model, frozen=True, kw_only=True):
    """The host's own CPU (libvirt host capabilities): what a host-passthrough guest sees."""

    vendor: Name
    model: Name
    features: tuple[str, ...] = ()


class HostCpu(Model, frozen=True, kw_only=True):
    vendor: Name
    model: Name
    #: Every CPU feature the host offers, expanded (not only those beyond ``model``).
    features: tuple[str, ...] = ()
    cores: PosInt
    #: Guest CPU models the hypervisor can provide (domain capabilities, usable='yes').
    #: When absent, a guest model is judged by the built-in x86 model generations.
    models: tuple[str, ...] | None = None
    #: Per domain type: what it offers guests (a guest is judged by its own type's entry;
    #: empty: the fields above serve every type).
    hypervisors: dict[str, HypervisorCpu] = {}
    #: The host's own CPU, for host-passthrough guests (unknown: they stay).
    physical: PhysicalCpu | None = None

    def offer(self, virt_type: str) -> HypervisorCpu | None:
        """What domains of ``virt_type`` get here; ``None``: this host cannot run them."""
        if not self.hypervisors:
            return HypervisorCpu(vendor=self.vendor, model=self.model, features=self.features,
                                 models=self.models)  # fmt: skip
        return self.hypervisors.get(virt_type)


class GuestCpu(Model, frozen=True, kw_only=True):
    vendor: Name
    model: Name
    #: Features the guest requires (policy 'require'), beyond what its model implies;
    #: for a running guest, its CPU as libvirt expanded it.
    features: tuple[str, ...] = ()
    #: ``<cpu mode>``: a named model (``custom``), the host's model (``host-model``: a
    #: running one is judged by the CPU it was given) or the host's CPU itself
    #: (``host-passthrough``: ``model``/``features`` are its host's physical CPU).
    mode: GuestCpuMode = "custom"
    #: The domain type (``<domain type>``) whose hypervisor must provide this CPU.
    virt_type: Name = "kvm"


class Versions(Model, frozen=True, kw_only=True):
    qemu: Name
    libvirt: Name
    kernel: str = ""
    os: str = ""


class Power(Model, frozen=True, kw_only=True):
    """Power draw by CPU utilization: ``idle_w``..``max_w`` linear, or an 11-point table."""

    idle_w: NonNegFloat | None = None
    max_w: NonNegFloat | None = None
    #: Watts at 0, 10, ..., 100 % CPU, linear in between.
    table_w: tuple[NonNegFloat, ...] | None = None


class Host(Model, frozen=True, kw_only=True):
    name: Name
    state: HostState
    uri: Name
    cpu: HostCpu
    memory_mib: Mib
    cpu_used: NonNegFloat = 0.0
    memory_used_mib: NonNegMib = 0
    numa_nodes: PosInt = 1
    storage_pools: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    versions: Versions
    machine_types: tuple[str, ...] = ()
    migration_bandwidth_mib_s: PosFloat = 128.0
    #: Where other hosts send this host's migration data (a dedicated network, e.g.
    #: ``tcp://10.1.0.12``); empty: libvirt's default (the host's own address).
    migration_uri: str = ""
    power: Power | None = None
    labels: dict[str, str] = {}
    #: CPU capacity in reference cores when hosts' cores differ in speed (default: cores).
    cpu_capacity: PosFloat | None = None
    #: Why ``state`` is not what the host's agent reported: ``stale`` (heartbeat expired),
    #: the operator's reason, or ``operator``; empty otherwise. Informative only.
    state_reason: str = ""

    @property
    def cpu_capacity_cores(self) -> float:
        return float(self.cpu.cores) if self.cpu_capacity is None else self.cpu_capacity


class Disk(Model, frozen=True, kw_only=True):
    pool: Name
    shared: bool
    bytes: Annotated[int, msgspec.Meta(ge=0, le=MAX_BYTES)] = 0


class Devices(Model, frozen=True, kw_only=True):
    hostdev: NonNegInt = 0
    sriov: NonNegInt = 0
    mdev: NonNegInt = 0


class Vm(Model, frozen=True, kw_only=True):
    name: Name
    host: Name
    state: VmState
    vcpus: PosInt
    cpu_used: NonNegFloat = 0.0
    memory_mib: Mib
    dirty_rate_mib_s: NonNegFloat = 0.0
    cpu: GuestCpu
    machine_type: Name
    disks: tuple[Disk, ...] = ()
    networks: tuple[str, ...] = ()
    devices: Devices = Devices()
    numa_pinned: bool = False
    #: Availability-critical: never switched to post-copy (the guide, 12.8.1).
    critical: bool = False
    last_migrated_at: NonNegFloat | None = None
    labels: dict[str, str] = {}
    #: Writable working set, when known: caps what one pre-copy round can re-dirty.
    working_set_mib: NonNegFloat | None = None
    #: Non-zero memory last measured (by the VM's last migration), when known: what the
    #: first pre-copy pass sends, zero pages travelling as flags (clamped to memory_mib).
    resident_mib: NonNegFloat | None = None


class AffinityRule(Model, frozen=True, kw_only=True, tag_field="type", tag="affinity"):
    """The VMs run on one host (``hard``) or preferably do (soft)."""

    vms: tuple[Name, ...]
    hard: bool = True


class AntiAffinityRule(Model, frozen=True, kw_only=True, tag_field="type", tag="anti-affinity"):
    """No two of the VMs run on one host (``hard``) or preferably do not (soft)."""

    vms: tuple[Name, ...]
    hard: bool = True


class PinRule(Model, frozen=True, kw_only=True, tag_field="type", tag="pin"):
    """The VM runs only on one of ``hosts`` (``hard``) or preferably does (a soft pin:
    "prefer these hosts")."""

    vm: Name
    hosts: tuple[Name, ...]
    hard: bool = True


Rule = AffinityRule | AntiAffinityRule | PinRule


class Link(Model, frozen=True, kw_only=True):
    """Migration bandwidth measured from ``source`` to ``dest`` (completed migrations'
    bytes over their transfer time, smoothed); the planner prices that pair's moves with
    it instead of the hosts' ``migration_bandwidth_mib_s``."""

    source: Name
    dest: Name
    bandwidth_mib_s: PosFloat
    #: How many migrations the figure is made of.
    samples: PosInt = 1
    measured_at: NonNegFloat = 0.0


class XmlRewrite(Model, frozen=True, kw_only=True):
    """How a VM's definition changes on one destination (the guide's ``--xml``): disk
    source path prefixes and libvirt network names, old → new."""

    paths: dict[str, str] = {}
    networks: dict[str, str] = {}


class LadderPolicy(Model, frozen=True, kw_only=True):
    """The executor's fallback ladder (docs/executor.md); a VM's labels ``critical``,
    ``max_downtime_ms``, ``allow_postcopy``, ``allow_suspend`` override it for that VM."""

    #: Which rungs exist, in order; remove one to skip it.
    rungs: tuple[LadderRung, ...] = ("downtime", "auto-converge", "postcopy", "suspend")
    #: The downtime rung raises max downtime from the policy's budget up to this.
    max_downtime_ms: Annotated[int, msgspec.Meta(ge=1, le=60000)] = 1000
    downtime_steps: Annotated[int, msgspec.Meta(ge=1, le=20)] = 2
    allow_suspend: bool = True
    #: Stall: remaining memory not shrinking over this many pre-copy iterations …
    stall_iterations: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    #: … or for this long (seconds).
    stall_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 20.0
    #: Seconds a rung gets to show progress before the next one.
    step_grace_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 10.0
    #: Completion timeout: this many seconds per GiB of guest memory, at least ``min``.
    timeout_s_per_gib: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 300.0
    timeout_min_s: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 60.0


class Slots(Model, frozen=True, kw_only=True):
    outbound_per_host: PosInt = 2
    inbound_per_host: PosInt = 2
    cluster: PosInt = 5


class Policy(Model, frozen=True, kw_only=True):
    #: What the plan is for: a registered objective (``balancer.core.objectives``).
    objective: Objective = "balance"
    evacuate_hosts: tuple[Name, ...] = ()
    #: Fraction of each host's CPU and memory kept free.
    headroom: Fraction = 0.1
    max_migrations: NonNegInt | None = None
    #: Largest pause a live migration may cause (QEMU's default max downtime is 300 ms).
    downtime_budget_ms: Annotated[int, msgspec.Meta(ge=1, le=MAX_DOWNTIME_MS)] = 300
    allow_postcopy: bool = False
    slots: Slots = Slots()
    #: A VM migrated less than this long ago stays where it is (balance, consolidate).
    cooldown_s: NonNegFloat = 3600.0
    capacity_mode: CapacityMode = "cpu+memory"
    #: Balance: a move must cut the utilization spread by more than this per second of
    #: estimated migration time (its cost).
    move_cost_per_s: NonNegFloat = 0.002
    #: Cap on migration bandwidth (MiB/s) the executor sets; None: the hosts' own.
    bandwidth_mib_s: PosFloat | None = None
    ladder: LadderPolicy = LadderPolicy()
    #: Copy the disks of a VM on storage the destination does not share (live:
    #: ``--copy-storage-all``; offline: volume streams), for VMs whose unshared disks
    #: total at most ``storage_copy_max_gib``.
    allow_storage_copy: bool = True
    storage_copy_max_gib: Annotated[float, msgspec.Meta(gt=0)] = 64.0
    #: Encrypt migration data (``VIR_MIGRATE_TLS``; the hosts need QEMU's TLS certificates).
    migration_tls: bool = False
    #: Parallel migration connections (``VIR_MIGRATE_PARALLEL``); 1: a single stream.
    migration_connections: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    #: Compression of migration data; ``zlib``/``zstd`` use parallel connections.
    migration_compression: Compression = "none"
    #: Destination host → how VM definitions change there (path prefixes, networks).
    destination_xml: dict[str, XmlRewrite] = {}

    def __post_init__(self) -> None:
        if self.objective == "balance":  # built in (and the default, made at import time)
            return
        # The objectives import the planning core, which imports these models: late import.
        from balancer.core.objectives import REGISTRY  # noqa: PLC0415

        if self.objective not in REGISTRY:
            raise ValueError(
                f"objective: Invalid enum value {self.objective!r} (one of {', '.join(REGISTRY)})"
            )


class Snapshot(Model, frozen=True, kw_only=True):
    version: Literal[1]
    taken_at: NonNegFloat
    generation: Annotated[int, msgspec.Meta(ge=0, le=MAX_GENERATION)]
    hosts: tuple[Host, ...]
    vms: tuple[Vm, ...] = ()
    rules: tuple[Rule, ...] = ()
    policy: Policy = Policy()
    #: Measured migration bandwidth per host pair (the executor's records).
    links: tuple[Link, ...] = ()
