"""What a cycle leaves behind (``CycleRecord``, read by ``balancer status`` and the
exporter) and what the plan sink reports of the plan under way (``InFlight``)."""

from __future__ import annotations

import msgspec


class InFlight(msgspec.Struct, frozen=True, kw_only=True):
    """The plan the executor is carrying out (``plan_id`` empty: none)."""

    plan_id: str = ""
    epoch: int = 0
    sent_at: float = 0.0
    #: The plan's top intent (a ``MoveReason`` value; ``capacity`` for a power-on only).
    intent: str = ""
    #: VMs whose move is queued or running: no cycle moves them again meanwhile.
    vms: frozenset[str] = frozenset()
    #: Hosts with a power action queued or running.
    hosts: frozenset[str] = frozenset()
    total: int = 0
    done: int = 0
    failed: int = 0
    #: VM → when its last migration failed, for the VMs whose last one did (lately): the
    #: loop holds them back for ``ControlSettings.retry_failed_after_s``.
    failed_at: dict[str, float] = {}

    @property
    def active(self) -> bool:
        return bool(self.plan_id) and bool(self.vms or self.hosts)


class CycleRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One cycle: when, how long (by phase), under which epoch, what it decided and sent."""

    at: float
    seconds: float
    epoch: int
    leader: str = ""
    #: Seconds by phase: ``snapshot``, ``history``, ``decide``, ``send``.
    phases: dict[str, float] = {}
    #: ``planned``: a new plan was decided; ``following``: a plan in flight was followed;
    #: ``paused``: only evacuations were considered; ``idle``: nothing to do; ``fenced``:
    #: the lead was lost before sending.
    outcome: str = "idle"
    plan_id: str = ""
    moves_planned: int = 0
    moves_sent: int = 0
    #: Moves planned by reason (``MoveReason`` values).
    reasons: dict[str, int] = {}
    power_on: tuple[str, ...] = ()
    power_off: tuple[str, ...] = ()
    #: VMs that cannot move, by reason (``balancer.core.reasons.Reason`` values).
    unmovable: dict[str, int] = {}
    #: The intents that acted this cycle, highest priority first.
    intents: tuple[str, ...] = ()
    summary: str = ""
    #: ``plan()`` calls the decision made.
    plans_computed: int = 0
    hosts: int = 0
    vms: int = 0
    active_hosts: int = 0
    #: Fewest hosts that could hold the load (CPU, and memory unless cpu-only).
    active_hosts_lower_bound: int = 0
    #: Standard deviation of CPU utilization over the active hosts.
    spread: float = 0.0
    #: Estimated power now, and with every host on (W).
    power_w: float = 0.0
    power_all_on_w: float = 0.0
