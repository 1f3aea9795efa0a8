"""What the executor is asked to do (JSON, what a Celery task carries): one move
(``MigrationOrder``) or one power action (``PowerOrder``), each with everything it needs
to know, its identity (``id``, ``plan_id``) and the fencing epoch it was sent under."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec

from balancer.core.filters.storage import copies_storage, copy_bytes
from balancer.core.migration_model import Mode
from balancer.core.models import (
    MAX_BYTES,
    MAX_DOWNTIME_MS,
    MAX_GENERATION,
    Compression,
    Host,
    LadderRung,
    Mib,
    Name,
    NonNegFloat,
    Policy,
    PosFloat,
    PosInt,
    Slots,
    Vm,
    XmlRewrite,
)
from balancer.core.plan import Move, MoveReason, PowerAction, PowerReason
from balancer.core.vm_ladder import vm_ladder
from balancer.errors import OrderError
from balancer.state.migrations import Predicted

__all__ = [
    "LadderConfig",
    "MigrationOrder",
    "PowerOrder",
    "Predicted",
    "ladder_config",
    "order_from_move",
    "power_order",
]

_T = TypeVar("_T")
VmState = Literal["running", "paused", "shutoff"]
#: Bounds of what a task payload may say (a payload is input: anyone who can queue a task
#: writes one); checked by ``decode`` / ``decode_power``, not by the constructors.
PollS = Annotated[float, msgspec.Meta(gt=0, le=3600)]
DowntimeMs = Annotated[int, msgspec.Meta(ge=1, le=MAX_DOWNTIME_MS)]
Epoch = Annotated[int, msgspec.Meta(ge=0, le=MAX_GENERATION)]
Id = Annotated[str, msgspec.Meta(max_length=256)]
Bytes = Annotated[int, msgspec.Meta(ge=0, le=MAX_BYTES)]


class LadderConfig(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The fallback ladder of one move (defaults in docs/executor.md): the policy's
    ``ladder`` with the VM's overrides (``order_from_move``)."""

    poll_s: PollS = 1.0
    #: Stall: remaining memory not shrinking over this many pre-copy iterations.
    stall_iterations: PosInt = 3
    #: Stall also when no new low of remaining memory for this long (seconds).
    stall_s: NonNegFloat = 20.0
    #: Seconds a ladder step gets to show progress before the next step.
    step_grace_s: NonNegFloat = 10.0
    #: Max downtime the migration starts with: the limit the plan's estimate assumed
    #: (the policy's budget, QEMU's default 300 ms; less for a VM whose label says so).
    initial_downtime_ms: DowntimeMs = 300
    #: Max downtime is raised in this many steps up to the VM's budget.
    downtime_steps: PosInt = 2
    #: Completion timeout: this many seconds per GiB of guest memory, at least ``min``.
    timeout_s_per_gib: NonNegFloat = 300.0
    timeout_min_s: NonNegFloat = 60.0
    #: Which rungs exist; remove one to skip it.
    rungs: tuple[LadderRung, ...] = ("downtime", "auto-converge", "postcopy", "suspend")

    def timeout_s(self, memory_mib: int, copy_bytes: int = 0) -> float:
        """The completion timeout for this much guest memory and disk to copy."""
        gib = memory_mib / 1024 + copy_bytes / 2**30
        return max(self.timeout_min_s, self.timeout_s_per_gib * gib)


def ladder_config(vm: Vm, policy: Policy) -> LadderConfig:
    """The ladder of ``vm`` under ``policy`` (its labels override the policy's)."""
    p, mine = policy.ladder, vm_ladder(vm, policy)
    return LadderConfig(
        stall_iterations=p.stall_iterations,
        stall_s=p.stall_s,
        step_grace_s=p.step_grace_s,
        initial_downtime_ms=mine.downtime_ms,
        downtime_steps=p.downtime_steps,
        timeout_s_per_gib=p.timeout_s_per_gib,
        timeout_min_s=p.timeout_min_s,
        rungs=mine.rungs,
    )


class MigrationOrder(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One VM to move from ``source`` to ``dest`` with ``mode``; frozen, JSON-encodable.

    ``id`` names this migration in the records (empty: the executor uses its task id);
    ``epoch`` is the leader's fencing epoch it was sent under (None: an operator's move,
    which no leader fences but which still takes the VM's lease).
    """

    id: Id = ""
    plan_id: Id = ""
    epoch: Epoch | None = None
    reason: MoveReason = MoveReason.OPERATOR
    vm: Name
    source: Name
    dest: Name
    mode: Mode
    memory_mib: Mib
    expected_state: VmState = "running"
    critical: bool = False
    allow_postcopy: bool = False
    link_stable: bool = True
    #: The most downtime the ladder's downtime rung may allow (it starts at
    #: ``ladder.initial_downtime_ms``).
    downtime_budget_ms: DowntimeMs = 1000
    bandwidth_mib_s: PosFloat | None = None
    #: Copy the disks on storage the destination does not share (live: libvirt's storage
    #: migration; offline: volume streams, checksum verified).
    copy_storage: bool = False
    #: Bytes of those disks (the plan's figure: the completion timeout counts them).
    copy_bytes: Bytes = 0
    #: Pools (and network disks) of the VM that the plan counted as shared storage.
    shared_pools: tuple[Name, ...] = ()
    predicted: Predicted | None = None
    ladder: LadderConfig = LadderConfig()
    #: Slot limits (the policy's).
    slots: Slots = Slots()
    #: Where the source sends the data (the destination's dedicated migration network,
    #: ``Host.migration_uri``); "": libvirt's default.
    migration_uri: str = ""
    #: The policy's transport: TLS, parallel connections, compression.
    tls: bool = False
    connections: PosInt = 1
    compression: Compression = "none"
    #: How the VM's definition changes on the destination (the policy's, for ``dest``).
    rewrite: XmlRewrite | None = None

    @property
    def key(self) -> str:
        return f"{self.vm}:{self.source}->{self.dest}"


def order_from_move(
    move: Move,
    vm: Vm,
    policy: Policy,
    *,
    id: str,
    plan_id: str = "",
    epoch: int | None = None,
    dest: Host | None = None,
) -> MigrationOrder:
    """The order for a plan's move (the VM's facts, the policy's limits and ladder with
    the VM's overrides, the destination's migration URI when ``dest`` is given)."""
    mine = vm_ladder(vm, policy)
    return MigrationOrder(
        id=id,
        plan_id=plan_id,
        epoch=epoch,
        reason=move.reason,
        vm=move.vm,
        source=move.source,
        dest=move.to,
        mode=move.mode,
        memory_mib=vm.memory_mib,
        expected_state=vm.state if vm.state in ("running", "paused", "shutoff") else "running",
        critical=mine.critical,
        allow_postcopy=mine.allow_postcopy,
        downtime_budget_ms=mine.max_downtime_ms,
        bandwidth_mib_s=policy.bandwidth_mib_s,
        copy_storage=copies_storage(vm),
        copy_bytes=copy_bytes(vm),
        shared_pools=tuple(sorted({d.pool for d in vm.disks if d.shared})),
        predicted=Predicted(
            duration_s=move.estimate.duration_s,
            downtime_ms=move.estimate.downtime_ms,
            bytes=move.estimate.bytes,
        ),
        ladder=ladder_config(vm, policy),
        slots=policy.slots,
        migration_uri=dest.migration_uri if dest is not None else "",
        tls=policy.migration_tls,
        connections=policy.migration_connections,
        compression=policy.migration_compression,
        rewrite=policy.destination_xml.get(move.to),
    )


class PowerOrder(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Power ``host`` on or off. Only the host is named: the worker takes the driver (its
    address and credentials) from its own configuration."""

    id: Id
    plan_id: Id = ""
    epoch: Epoch | None = None
    host: Name
    action: Literal["on", "off"]
    reason: PowerReason = PowerReason.OPERATOR


def power_order(
    action: PowerAction, *, id: str, plan_id: str = "", epoch: int | None = None
) -> PowerOrder:
    return PowerOrder(id=id, plan_id=plan_id, epoch=epoch, host=action.host,
                      action=action.action, reason=action.reason)  # fmt: skip


def encode(order: MigrationOrder | PowerOrder) -> dict[str, object]:
    out: dict[str, object] = msgspec.to_builtins(order)
    return out


def decode(data: object) -> MigrationOrder:
    """A task's payload as a ``MigrationOrder``; ``OrderError`` (permanent, never
    retried) naming the field for anything else."""
    return _convert(data, MigrationOrder)


def decode_power(data: object) -> PowerOrder:
    return _convert(data, PowerOrder)


def _convert(data: object, kind: type[_T]) -> _T:
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        raise OrderError(f"not a valid {kind.__name__}: {exc}") from None
