"""What the executor is asked to do (JSON, what a Celery task carries): one move
(``MigrationOrder``) or one power action (``PowerOrder``), each with everything it needs
to know, its identity (``id``, ``plan_id``) and the fencing epoch it was sent under."""

from __future__ import annotations

from typing import Literal

import msgspec

from balancer.core.filters.storage import copy_bytes
from balancer.core.migration_model import Mode
from balancer.core.models import Policy, Slots, Vm
from balancer.core.plan import Move, MoveReason, PowerAction, PowerReason
from balancer.state.migrations import Predicted

__all__ = [
    "LadderConfig",
    "MigrationOrder",
    "PowerOrder",
    "Predicted",
    "order_from_move",
    "power_order",
]

VmState = Literal["running", "paused", "shutoff"]


class LadderConfig(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The fallback ladder (defaults in docs/executor.md)."""

    poll_s: float = 1.0
    #: Stall: remaining memory not shrinking over this many pre-copy iterations.
    stall_iterations: int = 3
    #: Stall also when no new low of remaining memory for this long (seconds).
    stall_s: float = 20.0
    #: Seconds a ladder step gets to show progress before the next step.
    step_grace_s: float = 10.0
    #: Max downtime the migration starts with (QEMU's default is 300 ms).
    initial_downtime_ms: int = 100
    #: Max downtime is raised in this many steps up to the VM's budget.
    downtime_steps: int = 2
    #: Completion timeout: this many seconds per GiB of guest memory, at least ``min``.
    timeout_s_per_gib: float = 300.0
    timeout_min_s: float = 60.0
    #: Which rungs exist; remove one to skip it.
    rungs: tuple[Literal["downtime", "postcopy", "suspend"], ...] = (
        "downtime",
        "postcopy",
        "suspend",
    )

    def timeout_s(self, memory_mib: int) -> float:
        return max(self.timeout_min_s, self.timeout_s_per_gib * memory_mib / 1024)


class MigrationOrder(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One VM to move from ``source`` to ``dest`` with ``mode``; frozen, JSON-encodable.

    ``id`` names this migration in the records (empty: the executor uses its task id);
    ``epoch`` is the leader's fencing epoch it was sent under (None: an operator's move,
    which no leader fences but which still takes the VM's lease).
    """

    id: str = ""
    plan_id: str = ""
    epoch: int | None = None
    reason: MoveReason = MoveReason.OPERATOR
    vm: str
    source: str
    dest: str
    mode: Mode
    memory_mib: int
    expected_state: VmState = "running"
    critical: bool = False
    allow_postcopy: bool = False
    link_stable: bool = True
    downtime_budget_ms: int = 300
    bandwidth_mib_s: float | None = None
    #: Copy non-shared disks (offline moves of VMs on host-local storage).
    copy_storage: bool = False
    #: Pools (and network disks) of the VM that the plan counted as shared storage.
    shared_pools: tuple[str, ...] = ()
    predicted: Predicted | None = None
    ladder: LadderConfig = LadderConfig()
    #: Slot limits (the policy's).
    slots: Slots = Slots()

    @property
    def key(self) -> str:
        return f"{self.vm}:{self.source}->{self.dest}"


def order_from_move(
    move: Move, vm: Vm, policy: Policy, *, id: str, plan_id: str = "", epoch: int | None = None
) -> MigrationOrder:
    """The order for a plan's move (the VM's facts and the policy's limits included)."""
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
        critical=vm.critical,
        allow_postcopy=policy.allow_postcopy,
        downtime_budget_ms=policy.downtime_budget_ms,
        bandwidth_mib_s=policy.bandwidth_mib_s,
        copy_storage=move.mode == "offline" and copy_bytes(vm) > 0,
        shared_pools=tuple(sorted({d.pool for d in vm.disks if d.shared})),
        predicted=Predicted(
            duration_s=move.estimate.duration_s,
            downtime_ms=move.estimate.downtime_ms,
            bytes=move.estimate.bytes,
        ),
        slots=policy.slots,
    )


class PowerOrder(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Power ``host`` on or off. Only the host is named: the worker takes the driver (its
    address and credentials) from its own configuration."""

    id: str
    plan_id: str = ""
    epoch: int | None = None
    host: str
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
    return msgspec.convert(data, MigrationOrder)


def decode_power(data: object) -> PowerOrder:
    return msgspec.convert(data, PowerOrder)
