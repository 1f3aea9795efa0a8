"""Compose one plan from moves and power actions chosen elsewhere (by the control loop's
intents, each on its own view of the cluster).

``compose(snapshot, policy, moves, power) -> Plan``: the moves are replayed on the whole
snapshot and ordered into waves by the planner's own ordering (``order_moves``: slots
per host and per cluster, room freed before it is used, evacuations first), priced by
the migration model, and the power actions placed: power-on in wave 0 (before any move
onto the host), power-off in the wave after the host's last VM left.

Capacity: each move was validated by the intent that chose it, under that intent's
view (forecast demand, its own headroom), so the composition checks waves against the
hosts' physical capacity (``policy`` with no headroom) only: it orders, it does not
judge again. A move that no order can take (hosts each waiting for the other's room)
is not dropped silently: its VM is reported unmovable (``ordering-deadlock``), and a
power-off of a host that keeps a VM is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec
import numpy as np

from balancer.core.cluster import EPS, vm_cpu_demand
from balancer.core.models import Policy, Snapshot
from balancer.core.ordering import order_moves
from balancer.core.plan import (
    MoveReason,
    Plan,
    PowerAction,
    PowerReason,
    Spread,
    Summary,
    Unmovable,
)
from balancer.core.planner import Before, assemble, priced_moves, unmovable_of
from balancer.core.planning import Planning


@dataclass(frozen=True, slots=True)
class Chosen:
    """A move an intent chose: ``vm`` to ``dest``, why."""

    vm: str
    dest: str
    reason: MoveReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Switch:
    """A power action an intent chose."""

    host: str
    action: Literal["on", "off"]
    reason: PowerReason
    detail: str = ""


def composition_policy(policy: Policy) -> Policy:
    """The policy a composed plan is ordered and verified under: no headroom (each
    intent kept its own), the rest (slots, capacity mode, ...) as ``policy``."""
    return msgspec.structs.replace(policy, headroom=0.0, max_migrations=None)


def compose(
    snapshot: Snapshot,
    policy: Policy,
    moves: Sequence[Chosen],
    power: Sequence[Switch],
    unmovable: Sequence[Unmovable] = (),
    *,
    objective: str | None = None,
) -> Plan:
    """One plan of ``moves`` and ``power`` on ``snapshot``, waves under ``policy.slots``."""
    policy = composition_policy(policy)
    if objective is not None:
        policy = msgspec.structs.replace(policy, objective=objective)
    if not moves and not power:
        return empty_plan(snapshot, policy, unmovable)
    p = Planning(snapshot, policy, snapshot.taken_at)
    before = Before.of(p)
    s = p.state
    for c in moves:
        v = s.vm_index[c.vm]
        s.move(v, s.host_index[c.dest])
        p.move_reason[v] = (c.reason, c.detail)
    ordering = order_moves(p, None)  # leaves ``s`` at the outcome of the ordered moves
    priced = priced_moves(p, ordering)
    last_out: dict[str, int] = {}
    for m in priced:
        last_out[m.source] = max(last_out.get(m.source, 0), m.wave)
    actions: list[PowerAction] = []
    for sw in sorted(power, key=lambda a: (a.action != "on", a.host)):
        h = s.host_index[sw.host]
        if sw.action == "on":
            p.accepting[h] = True
            actions.append(
                PowerAction(host=sw.host, action="on", wave=0, reason=sw.reason, detail=sw.detail)
            )
        elif not s.members[h]:
            actions.append(
                PowerAction(
                    host=sw.host,
                    action="off",
                    wave=last_out.get(sw.host, 0) + 1,
                    reason=sw.reason,
                    detail=sw.detail,
                )
            )
    given = {u.vm: u for u in unmovable}
    for u in unmovable_of(p, ordering):
        given.setdefault(u.vm, u)
    left = sorted(given.values(), key=lambda u: u.vm)
    return assemble(p, before, priced, actions, left)


def empty_plan(snapshot: Snapshot, policy: Policy, unmovable: Sequence[Unmovable] = ()) -> Plan:
    """The plan of no move and no power action, its summary computed without a planning
    run (what the cycle returns most intervals, at any fleet size)."""
    hosts = snapshot.hosts
    index = {h.name: i for i, h in enumerate(hosts)}
    where = np.array([index[v.host] for v in snapshot.vms], dtype=np.int64)
    n = len(hosts)
    vm_cpu = np.array([vm_cpu_demand(v) for v in snapshot.vms], dtype=np.float64)
    vm_mem = np.array([float(v.memory_mib) for v in snapshot.vms], dtype=np.float64)
    reported = np.array([h.cpu_used for h in hosts], dtype=np.float64)
    used_cpu = np.maximum(reported, np.bincount(where, weights=vm_cpu, minlength=n))
    used_mem = np.bincount(where, weights=vm_mem, minlength=n)
    cap_cpu = np.array([h.cpu_capacity_cores for h in hosts], dtype=np.float64)
    cap_mem = np.array([float(h.memory_mib) for h in hosts], dtype=np.float64)
    on = np.array([h.state == "active" for h in hosts], dtype=np.bool_)
    cpu = used_cpu[on] / cap_cpu[on]
    mem = used_mem[on] / cap_mem[on]
    spread = Spread(
        cpu=float(np.std(cpu)) if on.any() else 0.0,
        memory=float(np.std(mem)) if on.any() else 0.0,
    )
    keep = 1.0 - policy.headroom
    over = used_cpu > cap_cpu * keep + EPS
    if policy.capacity_mode != "cpu-only":
        over |= used_mem > cap_mem * keep + EPS
    summary = Summary(
        objective=policy.objective,
        active_hosts_before=int(on.sum()),
        active_hosts_after=int(on.sum()),
        spread_before=spread,
        spread_after=spread,
        migrations=0,
        waves=0,
        total_bytes=0,
        total_duration_s=0.0,
        max_downtime_ms=0.0,
        overloaded_hosts_before=int((over & on).sum()),
        overloaded_hosts_after=int((over & on).sum()),
    )
    return Plan(
        generation=snapshot.generation,
        taken_at=snapshot.taken_at,
        moves=(),
        power=(),
        unmovable=tuple(sorted(unmovable, key=lambda u: u.vm)),
        summary=summary,
    )
