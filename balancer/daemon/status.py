"""``balancer status``: the cluster and its control loop at a glance, read from the store.

One object (``Status``) that scripts and tests read (``balancer status --json``): who
leads under which epoch, whether the daemon is paused, hosts by state, VMs, migrations in
flight, the evacuations with the VMs each host still holds, and the last cycle.
"""

from __future__ import annotations

from collections import Counter

import msgspec
import redis

from balancer.control.records import CycleRecord
from balancer.daemon.leader import LeaderInfo, current_epoch, current_leader
from balancer.daemon.redis_store import last_cycle
from balancer.state.intents_store import read_intents
from balancer.state.keys import Keys
from balancer.state.snapshot_read import snapshot_from_redis


class EvacuationStatus(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    host: str
    state: str
    vms_left: int
    vms_total: int
    created_at: float
    finished_at: float | None
    reason: str


class LastCycle(msgspec.Struct, frozen=True, kw_only=True):
    at: float
    seconds: float
    epoch: int
    outcome: str
    moves_planned: int
    moves_sent: int
    reasons: dict[str, int]
    power_on: tuple[str, ...]
    power_off: tuple[str, ...]
    summary: str


class Status(msgspec.Struct, frozen=True, kw_only=True):
    leader: LeaderInfo | None
    #: The newest epoch handed out (the leader's, or the last one's when none leads).
    epoch: int
    paused: bool
    paused_reason: str
    hosts: dict[str, int]
    vms: int
    migrations_in_flight: int
    evacuations: tuple[EvacuationStatus, ...]
    last_cycle: LastCycle | None


def _last(record: CycleRecord | None) -> LastCycle | None:
    if record is None:
        return None
    return LastCycle(
        at=record.at,
        seconds=record.seconds,
        epoch=record.epoch,
        outcome=record.outcome,
        moves_planned=record.moves_planned,
        moves_sent=record.moves_sent,
        reasons=record.reasons,
        power_on=record.power_on,
        power_off=record.power_off,
        summary=record.summary,
    )


def read_status(client: redis.Redis, keys: Keys, *, now: float) -> Status:
    snapshot = snapshot_from_redis(client, keys=keys, now=now)
    on_host = Counter(vm.host for vm in snapshot.vms)
    intents = read_intents(client, keys).intents
    evacuations = tuple(
        EvacuationStatus(
            id=e.id,
            host=e.host,
            state=e.state,
            vms_left=0 if e.state == "done" else on_host.get(e.host, 0),
            vms_total=e.vms_total,
            created_at=e.created_at,
            finished_at=e.finished_at,
            reason=e.reason,
        )
        for e in intents.evacuations
    )
    paused = intents.paused
    return Status(
        leader=current_leader(client, keys),
        epoch=current_epoch(client, keys),
        paused=paused is not None,
        paused_reason="" if paused is None else paused.reason,
        hosts=dict(sorted(Counter(h.state for h in snapshot.hosts).items())),
        vms=len(snapshot.vms),
        migrations_in_flight=int(client.hlen(keys.running)),
        evacuations=evacuations,
        last_cycle=_last(last_cycle(client, keys)),
    )
