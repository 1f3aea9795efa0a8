"""Compose one plan from moves and power actions chosen elsewhere (by the control loop's
intents, each on its own view of the cluster).

``compose(snapshot, policy, moves, power) -> Plan``: the moves are replayed on the whole
snapshot and ordered into waves by the planner's own ordering (``order_moves``: slots
per host and per cluster, room freed before it is used, evacuations first), priced by
the migration model, and the power actions placed: power-on in wave 0 (before any move
onto the host), power-off in the wave after the host's last VM left.

Only the hosts the plan touches (sources, destinations, power actions) take part in
the ordering; the summary is the whole fleet's (``fleet_summary``).

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

from balancer.core.cluster import EPS, FloatArray
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
from balancer.core.planning import BoolArray, IntArray, Planning
from balancer.core.subset import restrict


@dataclass(frozen=True, slots=True)
class Chosen:
    """A move an intent chose: ``vm`` to ``dest``, why."""

    vm: str
    dest: str
    reason: MoveReason
    detail: str = ""
    #: Where the VM is (informative: the composition reads it from the snapshot).
    source: str = ""


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


@dataclass(frozen=True, slots=True)
class VmArrays:
    """Per VM of a snapshot (its order): host index, CPU demand, memory (MiB). A caller
    that has them already hands them over; else they are read from the snapshot."""

    host: IntArray
    cpu: FloatArray
    memory: FloatArray

    @staticmethod
    def of(snapshot: Snapshot) -> VmArrays:
        index = {h.name: i for i, h in enumerate(snapshot.hosts)}
        n = len(snapshot.vms)
        host = np.empty(n, dtype=np.int64)
        cpu = np.empty(n, dtype=np.float64)
        memory = np.empty(n, dtype=np.float64)
        for j, v in enumerate(snapshot.vms):
            host[j] = index[v.host]
            cpu[j] = 0.0 if v.state == "shutoff" else v.cpu_used
            memory[j] = v.memory_mib
        return VmArrays(host, cpu, memory)


def compose(
    snapshot: Snapshot,
    policy: Policy,
    moves: Sequence[Chosen],
    power: Sequence[Switch],
    unmovable: Sequence[Unmovable] = (),
    *,
    objective: str | None = None,
    arrays: VmArrays | None = None,
) -> Plan:
    """One plan of ``moves`` and ``power`` on ``snapshot``, waves under ``policy.slots``."""
    policy = composition_policy(policy)
    if objective is not None:
        policy = msgspec.structs.replace(policy, objective=objective)
    if not moves and not power:
        return empty_plan(snapshot, policy, unmovable, arrays=arrays)
    moving = {c.vm for c in moves}
    touched = {c.dest for c in moves} | {a.host for a in power}
    touched |= {v.host for v in snapshot.vms if v.name in moving}
    view = restrict(snapshot, touched)  # the hosts the plan touches: fast at any size
    p = Planning(view, policy, snapshot.taken_at)
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
    local = assemble(p, before, priced, actions, left)
    return msgspec.structs.replace(
        local,
        generation=snapshot.generation,
        summary=fleet_summary(snapshot, policy, local, arrays=arrays),
    )


def fleet_summary(
    snapshot: Snapshot, policy: Policy, plan: Plan, *, arrays: VmArrays | None = None
) -> Summary:
    """The plan's summary over the whole fleet (hosts on, spread and overloads before and
    after), from arrays: no planning run over hosts the plan does not touch."""
    hosts = snapshot.hosts
    n = len(hosts)
    index = {h.name: i for i, h in enumerate(hosts)}
    vm = VmArrays.of(snapshot) if arrays is None else arrays
    where, vm_cpu, vm_mem = vm.host, vm.cpu, vm.memory
    reported = np.fromiter((h.cpu_used for h in hosts), np.float64, n)
    cpu_before = np.bincount(where, weights=vm_cpu, minlength=n)
    overhead = np.maximum(reported - cpu_before, 0.0)
    cap_cpu = np.fromiter((h.cpu_capacity_cores for h in hosts), np.float64, n)
    cap_mem = np.fromiter((float(h.memory_mib) for h in hosts), np.float64, n)
    on_before = np.fromiter((h.state == "active" for h in hosts), np.bool_, n)
    after = where.copy()
    if plan.moves:
        dest = {m.vm: index[m.to] for m in plan.moves}
        for j, v in enumerate(snapshot.vms):
            if v.name in dest:
                after[j] = dest[v.name]
    on_after = on_before.copy()
    for a in plan.power:
        on_after[index[a.host]] = a.action == "on"
    keep = 1.0 - policy.headroom

    def figures(place: IntArray, on: BoolArray) -> tuple[Spread, int]:
        cpu = overhead + np.bincount(place, weights=vm_cpu, minlength=n)
        mem = np.bincount(place, weights=vm_mem, minlength=n)
        over = cpu > cap_cpu * keep + EPS
        if policy.capacity_mode != "cpu-only":
            over |= mem > cap_mem * keep + EPS
        if not on.any():
            return Spread(cpu=0.0, memory=0.0), 0
        spread = Spread(
            cpu=float(np.std(cpu[on] / cap_cpu[on])), memory=float(np.std(mem[on] / cap_mem[on]))
        )
        return spread, int((over & on).sum())

    spread_before, over_before = figures(where, on_before)
    spread_after, over_after = figures(after, on_after)
    moves = plan.moves
    return Summary(
        objective=policy.objective,
        active_hosts_before=int(on_before.sum()),
        active_hosts_after=int(on_before.sum())
        + sum(1 if a.action == "on" else -1 for a in plan.power),
        spread_before=spread_before,
        spread_after=spread_after,
        migrations=len(moves),
        waves=max((m.wave for m in moves), default=0),
        total_bytes=sum(m.estimate.bytes for m in moves),
        total_duration_s=sum(m.estimate.duration_s for m in moves),
        max_downtime_ms=max((m.estimate.downtime_ms for m in moves), default=0.0),
        overloaded_hosts_before=over_before,
        overloaded_hosts_after=over_after,
    )


def empty_plan(
    snapshot: Snapshot,
    policy: Policy,
    unmovable: Sequence[Unmovable] = (),
    *,
    arrays: VmArrays | None = None,
) -> Plan:
    """The plan of no move and no power action, its summary computed without a planning
    run (what the cycle returns most intervals, at any fleet size)."""
    zero = Spread(cpu=0.0, memory=0.0)
    plan = Plan(
        generation=snapshot.generation,
        taken_at=snapshot.taken_at,
        moves=(),
        power=(),
        unmovable=tuple(sorted(unmovable, key=lambda u: u.vm)),
        summary=Summary(
            objective=policy.objective, active_hosts_before=0, active_hosts_after=0,
            spread_before=zero, spread_after=zero, migrations=0, waves=0, total_bytes=0,
            total_duration_s=0.0, max_downtime_ms=0.0, overloaded_hosts_before=0,
            overloaded_hosts_after=0,
        ),
    )  # fmt: skip
    return msgspec.structs.replace(
        plan, summary=fleet_summary(snapshot, policy, plan, arrays=arrays)
    )
