"""One cycle of the control loop through its ports (``run_cycle``): pure but for what the
ports do, so the daemon (Redis/Celery ports) and the simulator (in-memory ports) run the
same steps.

1. ``epoch = coordination.epoch()``: not leading → a ``fenced`` record, nothing read.
2. Read: the snapshot at ``clock.now()``; the history (recorded, then read over the
   settings' window at their sample spacing); the memory, the intents, the plan in flight.
3. Evacuation bookkeeping (``balancer.control.evacuations``), stored under the epoch.
4. A plan in flight is followed, not planned over (``following``), unless a running
   evacuation it does not serve preempts it (a flight of lower priority): its queued
   moves are cancelled (running ones finish) and the cycle plans with its VMs busy. VMs
   whose last migration failed lately (``retry_failed_after_s``) are busy too.
5. ``decide``; right before sending, the epoch is checked again (lost: ``fenced``,
   nothing sent); the plan goes to the sink under a plan id made of epoch and time.
6. The memory and the record are saved under the epoch.

Steps 2 to 4 are ``prepare``: through read-only ports it is the dry run of ``balancer
plan`` (what the daemon would do now).

Phase durations are wall time, which the core may not read: the caller passes a
``timer`` (``time.perf_counter`` in the daemon); without one they are 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from balancer.control.cycle import Decision, decide
from balancer.control.evacuations import track
from balancer.control.intents import Intents
from balancer.control.memory import CycleMemory
from balancer.control.ports import (
    Clock,
    Coordination,
    CycleStore,
    LoadHistory,
    PlanSink,
    SnapshotSource,
)
from balancer.control.records import CycleRecord, InFlight
from balancer.control.settings import ControlSettings
from balancer.control.situation import Situation
from balancer.core.models import Snapshot


@dataclass(frozen=True)
class Ports:
    clock: Clock
    snapshots: SnapshotSource
    history: LoadHistory
    store: CycleStore
    sink: PlanSink
    coordination: Coordination


def _zero() -> float:
    return 0.0


def plan_id(epoch: int, now: float) -> str:
    """Deterministic: the epoch and the cycle's time in milliseconds."""
    return f"{epoch}-{round(now * 1000)}"


@dataclass(frozen=True)
class Prepared:
    """What a cycle knows before it decides (steps 2 to 4)."""

    situation: Situation
    memory: CycleMemory
    flight: InFlight
    #: A plan in flight that no running evacuation preempts: the cycle follows it and
    #: decides nothing new (``situation.busy`` holds its VMs all the same).
    following: bool
    #: Seconds of the ``snapshot`` and ``history`` phases.
    phases: dict[str, float]


def prepare(
    ports: Ports,
    settings: ControlSettings,
    epoch: int,
    now: float,
    tick: Callable[[], float] = _zero,
) -> Prepared:
    """Steps 2 to 4 through the ports (their writes: the history's sample, the
    evacuations' bookkeeping under ``epoch``, a preempted flight's cancellation). A
    read-only set of ports makes it the dry run of ``balancer plan``."""
    t0 = tick()
    snapshot = ports.snapshots.snapshot(now)
    t1 = tick()
    ports.history.record(snapshot)
    history = ports.history.matrix(snapshot, settings.history_s(), settings.sample_every_s)
    t2 = tick()
    memory = ports.store.load()
    stored = ports.store.intents()
    flight = ports.sink.in_flight()
    evacuations, changed = track(stored.evacuations, snapshot, now)
    if changed:
        ports.store.update_evacuations(changed, epoch)
    intents = Intents(paused=stored.paused, evacuations=evacuations)
    busy = frozenset(
        vm for vm, at in flight.failed_at.items() if now - at < settings.retry_failed_after_s
    )
    following = False
    if flight.active:
        following = not _preempts(intents, snapshot, flight)
        if not following:
            ports.sink.cancel(flight.vms, flight.hosts)
        busy |= flight.vms
    situation = Situation(snapshot, history, settings.sample_every_s, busy, intents)
    return Prepared(situation, memory, flight, following, {"snapshot": t1 - t0, "history": t2 - t1})


def run_cycle(
    ports: Ports,
    settings: ControlSettings,
    *,
    leader: str = "",
    timer: Callable[[], float] | None = None,
) -> CycleRecord:
    tick = timer or _zero
    epoch = ports.coordination.epoch()
    now = ports.clock.now()
    if epoch is None:
        return CycleRecord(
            at=now, seconds=0.0, epoch=0, leader=leader, outcome="fenced", summary="not leading"
        )
    ready = prepare(ports, settings, epoch, now, tick)
    snapshot, intents, flight = ready.situation.snapshot, ready.situation.intents, ready.flight
    phases = dict(ready.phases)
    if ready.following:
        record = _record(now, epoch, leader, phases, snapshot, None, "following", flight)
        ports.store.save(ready.memory, record, epoch)
        return record
    t3 = tick()
    decision = decide(ready.situation, ready.memory, settings)
    t4 = tick()
    phases["decide"] = t4 - t3
    plan = decision.plan
    pid = ""
    outcome = "paused" if intents.paused is not None else "idle"
    if plan.moves or plan.power:
        if ports.coordination.epoch() != epoch:
            phases["send"] = 0.0
            return _record(now, epoch, leader, phases, snapshot, decision, "fenced", None)
        pid = plan_id(epoch, now)
        ports.sink.send(plan, snapshot, epoch, pid)
        outcome = "planned"
    phases["send"] = tick() - t4
    record = _record(now, epoch, leader, phases, snapshot, decision, outcome, None, pid)
    if not ports.store.save(decision.memory, record, epoch):
        record = msgspec.structs.replace(record, outcome="fenced")
    return record


def _preempts(intents: Intents, snapshot: Snapshot, flight: InFlight) -> bool:
    """A running evacuation the flight does not serve, over a flight of lower priority."""
    if flight.intent == "evacuation":
        return False
    hosts = {e.host for e in intents.running_evacuations()}
    return any(v.host in hosts and v.name not in flight.vms for v in snapshot.vms)


def _record(
    now: float,
    epoch: int,
    leader: str,
    phases: dict[str, float],
    snapshot: Snapshot,
    decision: Decision | None,
    outcome: str,
    flight: InFlight | None,
    pid: str = "",
) -> CycleRecord:
    base = CycleRecord(
        at=now,
        seconds=sum(phases.values()),
        epoch=epoch,
        leader=leader,
        phases=dict(phases),
        outcome=outcome,
        plan_id=pid or ("" if flight is None else flight.plan_id),
        hosts=len(snapshot.hosts),
        vms=len(snapshot.vms),
    )
    if decision is None:
        summary = "" if flight is None else f"following plan {flight.plan_id}"
        return msgspec.structs.replace(base, summary=summary)
    plan, fig = decision.plan, decision.figures
    sent = outcome == "planned"
    return msgspec.structs.replace(
        base,
        moves_planned=len(plan.moves),
        moves_sent=len(plan.moves) if sent else 0,
        reasons=dict(sorted(Counter(m.reason.value for m in plan.moves).items())),
        power_on=tuple(a.host for a in plan.power if a.action == "on"),
        power_off=tuple(a.host for a in plan.power if a.action == "off"),
        unmovable=dict(sorted(Counter(u.reason for u in plan.unmovable).items())),
        intents=decision.intents,
        summary=decision.summary,
        plans_computed=decision.plans_computed,
        active_hosts=fig.active_hosts,
        active_hosts_lower_bound=fig.active_hosts_lower_bound,
        spread=fig.spread,
        power_w=fig.power_w,
        power_all_on_w=fig.power_all_on_w,
    )
