"""The ``PlanSink`` port on Celery: a plan's waves go to the migration workers (only the
orders: moves, epoch, limits — ``workers.dispatch.send_plan``), and the plan in flight is
followed through the executor's per-plan results.

    kvmb:ctl:plan   STRING JSON ``FlightDoc``: the plan in flight, written under the
                    sender's epoch (a fenced write: a stale leader cannot replace it)

A move is under way until the executor recorded a result for its migration id
(completed, failed, fenced or cancelled); a power action likewise. When a move failed the
later waves never run, and a plan whose moves have not all ended by its deadline (its
estimated time, three times over, and ten minutes more: no worker, a stuck queue) is
stuck: either way what has not started is cancelled (the workers refuse it if it ever
comes) and stops holding its VMs; what runs finishes.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import redis

from balancer.control.ports import Clock
from balancer.control.records import InFlight
from balancer.core.models import Snapshot
from balancer.core.plan import MoveReason, Plan
from balancer.state.keys import Keys
from balancer.state.migrations import MigrationRecord, list_migrations, plan_results
from workers.dispatch import cancel_plan_moves, send_plan

log = logging.getLogger(__name__)

#: How far back failed migrations are looked for (the loop holds a VM back for its own
#: ``retry_failed_after_s``, which must not be longer to have effect).
FAILED_WINDOW_S = 86400.0
#: Results after which a task holds nothing any more.
ENDED = frozenset({"completed", "failed", "fenced", "cancelled"})
#: A plan's deadline: this many times its estimated migration time (spread over the
#: cluster's slots), plus ``DEADLINE_SLACK_S``.
DEADLINE_FACTOR = 3.0
DEADLINE_SLACK_S = 600.0
#: ...and never less than this many real seconds (a simulated fleet's clock runs many
#: times faster than the workers' real overheads: queueing, polling).
DEADLINE_SLACK_REAL_S = 120.0

#: KEYS: epoch, plan. ARGV: epoch, document.
_WRITE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


class FlightDoc(msgspec.Struct, frozen=True, kw_only=True):
    plan_id: str
    epoch: int
    sent_at: float
    deadline: float
    intent: str
    #: VM → its migration id, and the host it leaves.
    moves: dict[str, str]
    sources: dict[str, str]
    #: Host → the id of its power action.
    power: dict[str, str]


_doc = msgspec.json.Decoder(FlightDoc)


def read_flight(client: redis.Redis, keys: Keys) -> FlightDoc | None:
    raw = client.get(keys.plan)
    if raw is None:
        return None
    try:
        return _doc.decode(raw)
    except msgspec.DecodeError as exc:
        log.warning("%s does not decode (%s); no plan is followed", keys.plan, exc)
        return None


def _intent(plan: Plan) -> str:
    """The plan's top intent: evacuation first, as the loop ranks them."""
    order = [MoveReason.EVACUATION, MoveReason.RELIEF, MoveReason.BALANCE]
    reasons = {m.reason for m in plan.moves}
    for r in order:
        if r in reasons:
            return r.value
    if any(a.action == "on" for a in plan.power) and not plan.moves:
        return "capacity"
    return next(iter(sorted(reasons)), "energy") if reasons else "energy"


class CelerySink:
    def __init__(self, app: Any, client: redis.Redis, keys: Keys, clock: Clock) -> None:
        self.app, self.client, self.keys, self.clock = app, client, keys, clock
        self._write = client.register_script(_WRITE)

    def send(self, plan: Plan, snapshot: Snapshot, epoch: int, plan_id: str) -> int:
        if not plan.moves and not plan.power:
            return 0
        sent = send_plan(
            self.app,
            plan,
            snapshot,
            epoch=epoch,
            plan_id=plan_id,
            client=self.client,
            keys=self.keys,
        )
        now = self.clock.now()
        slots = max(1, snapshot.policy.slots.cluster)
        speed = float(getattr(self.clock, "speed", 1.0))  # a fleet's clock; 1 for real time
        slack = max(DEADLINE_SLACK_S, DEADLINE_SLACK_REAL_S * speed)
        deadline = now + DEADLINE_FACTOR * plan.summary.total_duration_s / slots + slack
        doc = FlightDoc(
            plan_id=plan_id,
            epoch=epoch,
            sent_at=now,
            deadline=deadline,
            intent=_intent(plan),
            moves=dict(sent.migrations),
            sources={m.vm: m.source for m in plan.moves},
            power=dict(sent.power),
        )
        written = self._write(
            keys=[self.keys.epoch, self.keys.plan], args=[str(epoch), msgspec.json.encode(doc)]
        )
        if not int(written):
            log.warning("plan %s sent under epoch %d, which is no longer current", plan_id, epoch)
        return len(sent.migrations) + len(sent.power)

    def in_flight(self) -> InFlight:
        flight, stale, why = read_in_flight(self.client, self.keys, self.clock.now())
        if stale:
            n = cancel_plan_moves(self.client, self.keys, stale)
            log.warning("plan %s: %s; %d queued action(s) cancelled", flight.plan_id, why, n)
        return flight

    def cancel(self, vms: frozenset[str], hosts: frozenset[str]) -> int:
        doc = read_flight(self.client, self.keys)
        if doc is None:
            return 0
        results = plan_results(self.client, self.keys, doc.plan_id)
        ids = [doc.moves[v] for v in vms if v in doc.moves]
        ids += [doc.power[h] for h in hosts if h in doc.power]
        ids = [i for i in ids if i not in results]  # running or ended: not cancelled
        return cancel_plan_moves(self.client, self.keys, ids) if ids else 0


def read_in_flight(client: redis.Redis, keys: Keys, now: float) -> tuple[InFlight, list[str], str]:
    """The plan in flight as it stands once its stale actions are cancelled, those
    actions (queued, after a failed move or past the plan's deadline), and why; reads
    only (the sink cancels them; ``balancer plan`` shows the daemon's view)."""
    failed_at = _failed_lately(client, keys, now)
    doc = read_flight(client, keys)
    if doc is None:
        return InFlight(failed_at=failed_at), [], ""
    results = plan_results(client, keys, doc.plan_id)
    ids = [*doc.moves.values(), *doc.power.values()]
    ended = {i for i in ids if results.get(i, "") in ENDED}
    running = {i for i in ids if results.get(i) == "running"}
    failed = sum(1 for i in ended if results[i] == "failed")
    queued = [i for i in ids if i not in ended and i not in running]
    stale: list[str] = []
    why = ""
    if queued and (failed or now > doc.deadline):
        # A failed move stops the later waves (they would never run) and a plan past
        # its deadline is stuck: what has not started is cancelled; the running finish.
        why = "a move failed" if failed else "it passed its deadline"
        stale = queued
        ended |= set(queued)
    vms = frozenset(vm for vm, mid in doc.moves.items() if mid not in ended)
    hosts = frozenset(h for h, pid in doc.power.items() if pid not in ended)
    flight = InFlight(
        plan_id=doc.plan_id,
        epoch=doc.epoch,
        sent_at=doc.sent_at,
        intent=doc.intent,
        vms=vms,
        hosts=hosts,
        total=len(ids),
        done=len(ended),
        failed=failed,
        failed_at=failed_at,
    )
    return flight, stale, why


def _failed_lately(client: redis.Redis, keys: Keys, now: float) -> dict[str, float]:
    """VM → when its migration failed, for the VMs whose last migration of the past
    ``FAILED_WINDOW_S`` failed."""
    last: dict[str, MigrationRecord] = {}
    for r in list_migrations(client, keys, since=now - FAILED_WINDOW_S):
        if r.result in ("completed", "failed"):
            last[r.vm] = r
    return {vm: r.finished_at or r.started_at for vm, r in last.items() if r.result == "failed"}


def revoke_moves_from(client: redis.Redis, keys: Keys, host: str) -> int:
    """Cancel the plan in flight's queued moves out of ``host`` (an evacuation cancelled
    by an operator); the running ones finish."""
    doc = read_flight(client, keys)
    if doc is None:
        return 0
    results = plan_results(client, keys, doc.plan_id)
    ids = [
        mid for vm, mid in doc.moves.items() if doc.sources.get(vm) == host and mid not in results
    ]
    return cancel_plan_moves(client, keys, ids) if ids else 0
