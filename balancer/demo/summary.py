"""What the demo's run did, from the store's records: moves by reason and mode, the
fallback steps that finished them, hosts powered off and on, the evacuation, the energy
(``energy``), and whether any VM was lost or duplicated (the fleet's placement)."""

from __future__ import annotations

from collections import Counter

import msgspec
import redis

from balancer.fleet.invariant import lost_and_duplicated
from balancer.fleet.store import FleetStore
from balancer.state.keys import Keys
from balancer.state.migrations import list_migrations
from workers.power.actions import power_records


class EvacuationSummary(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    #: Fleet seconds from the operator's `balancer evacuate` to the host's last VM gone
    #: (``None``: not done by the end).
    seconds: float | None
    vms_left: int


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    moves: int
    by_reason: dict[str, int]
    by_mode: dict[str, int]
    #: The fallback-ladder steps that let migrations finish (``downtime``, ``postcopy``,
    #: ``suspend``), and how many each.
    fallbacks: dict[str, int]
    powered_off: int
    powered_on: int
    evacuation: EvacuationSummary | None
    energy_kwh: float
    energy_kwh_no_power_management: float
    vms_lost: int
    vms_duplicated: int
    #: Migrations that failed, and tasks refused by the fence (a stale epoch) or cancelled.
    failed: int = 0
    fenced: int = 0
    cancelled: int = 0
    hosts: int = 0
    vms: int = 0
    #: Simulated hours the run covered, and real seconds it took.
    fleet_hours: float = 0.0
    seconds: float = 0.0
    #: The processes the run started (their PIDs), and those still alive once it
    #: stopped them (none).
    pids: tuple[int, ...] = ()
    processes_left: tuple[str, ...] = ()


class Counts(msgspec.Struct, frozen=True, kw_only=True):
    """The summary's figures that come from the executor's records."""

    moves: int
    by_reason: dict[str, int]
    by_mode: dict[str, int]
    fallbacks: dict[str, int]
    powered_off: int
    powered_on: int
    failed: int
    fenced: int
    cancelled: int


def moves_and_power(client: redis.Redis, keys: Keys) -> Counts:
    records = list_migrations(client, keys)
    done = [r for r in records if r.result == "completed"]
    results = Counter(r.result for r in records)
    power = [r for r in power_records(client, keys) if r.result == "completed"]
    return Counts(
        moves=len(done),
        by_reason=dict(sorted(Counter(r.reason for r in done).items())),
        by_mode=dict(sorted(Counter(r.mode for r in done).items())),
        fallbacks=dict(sorted(Counter(r.finished_by for r in done if r.finished_by).items())),
        powered_off=sum(1 for r in power if r.action == "off"),
        powered_on=sum(1 for r in power if r.action == "on"),
        failed=results["failed"],
        fenced=results["fenced"],
        cancelled=results["cancelled"],
    )


def placement_counts(client: redis.Redis, keys: Keys) -> tuple[int, int]:
    lost, duplicated = lost_and_duplicated(FleetStore(client, keys))
    return len(lost), len(duplicated)
