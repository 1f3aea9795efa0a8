"""Consolidate: drain the hosts whose load the others can take, when that saves enough
power for the migrations it costs.

1. The hosts that are on and at or under ``pack_to`` by forecast demand take part.
   Hosts over it neither give nor take (relieving them is relief's business).
2. Keepers, the hosts the fleet packs onto: the efficient hosts first (within
   ``TOLERANCE`` of the best cost per core at ``pack_to``, on or off: a G5, not a G4),
   then the hosts dearest to drain, until their room under ``pack_to`` holds what all
   the others hold. Only they receive: the planner sends a VM to the emptiest host
   that fits, which, among all the others, would be the next to drain, and a VM packed
   onto a G4 moves again when the G4 is replaced. A VM drained lands where it stays.
3. Hosts to drain, cheapest first: the others, the fewest VMs per watt the drain would
   save first. Take them while the keepers have room for their forecast load under
   ``pack_to``, up to ``max_moves`` migrations taking ``max_migration_s`` in all
   (memory over the host's link): what the executor can finish in an interval.
4. ``plan(evacuate)`` of those hosts onto the keepers (headroom ``1 - pack_to``, VMs at
   their forecast demand). ``spare_hosts`` off hosts, the most capacity per watt first,
   are in the view too: the planner powers one on when no keeper fits a VM.
5. Accept it only if every VM of the drained hosts finds a place (a host some of whose
   VMs cannot leave is dropped from the drain once, and the rest planned again) and the
   power saved (hosts on before minus after, at forecast load, from the power tables)
   is at least ``min_watts_per_move`` per migration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import msgspec
import numpy as np

from balancer.control.hosts import EPS
from balancer.control.power import FloatArray, cost_w_per_core, power_table, watts
from balancer.control.proposal import Proposal
from balancer.control.scope import Scope
from balancer.control.settings import ControlSettings
from balancer.control.subset import restrict, under
from balancer.core.compose import Chosen, Switch
from balancer.core.models import Host, Snapshot
from balancer.core.plan import MoveReason, Plan, PowerReason
from balancer.core.planner import plan

#: Marginal power of one more core on a host that is already on (W), for ranking drains.
MARGINAL_W_PER_CORE = 8.0
#: Hosts within this share of the best host's cost per core count as efficient.
TOLERANCE = 0.02


@dataclass(frozen=True, slots=True)
class Held:
    """What a host holds: forecast CPU (cores), memory (MiB), VMs, and the seconds
    its VMs' memory takes to cross its migration link."""

    cpu: float
    memory: float
    vms: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """A consolidation's answer: the proposal (``None``: nothing worth doing), whether
    it was tried (a plan computed), and a sentence."""

    proposal: Proposal | None
    tried: bool
    summary: str = ""
    #: ``plan()`` calls made.
    plans: int = 0


def consolidate(scope: Scope, demand: FloatArray) -> Outcome:
    """``demand``: each VM's forecast CPU demand (cores), in ``snapshot.vms`` order."""
    cfg = scope.settings
    snapshot = scope.snapshot
    on = scope.active()
    held = held_by_host(scope, on, demand)
    under = [h for h in on if held[h.name].cpu <= cfg.pack_to * h.cpu_capacity_cores + EPS]
    off = scope.spares()
    extra = off[: cfg.spare_hosts]
    costly = _costly(under, on + off[:1], cfg)
    cpu_only = snapshot.policy.capacity_mode == "cpu-only"
    drainable = {h.name for h in under if h.name in scope.can_off and h.name not in scope.stuck}
    keepers, drain = _choose(under, costly, held, cfg, cpu_only, drainable)
    if not drain:
        return Outcome(None, tried=False)
    for attempt in (1, 2):
        given = [h for h in under if h.name in set(drain)]
        view = forecast_view(scope, keepers + given + extra, demand, drain)
        result = plan(view, fixed=scope.fixed)
        blocked = {u.host for u in result.unmovable}
        if not blocked or attempt == 2:
            break
        # A host whose VMs cannot all leave is not drained; the others may still be.
        drain = [h for h in drain if h not in blocked]
        if not drain:
            break
    moves = len(result.moves)
    saving = saving_w(view, result)
    if result.unmovable or moves == 0 or saving < cfg.min_watts_per_move * moves:
        why = f"not worth it: {moves} migrations save {saving:.0f} W"
        blocked_note = f", {len(blocked)} host(s) blocked" if blocked else ""
        return Outcome(None, True, why + blocked_note, attempt)
    why = f"drain {len(drain)} host(s) ({', '.join(drain[:5])}): {moves} migrations save"
    proposal = packing(result, drain, "consolidation", f"{why} {saving:.0f} W")
    return Outcome(replace(proposal, plans_computed=attempt), True, plans=attempt)


def packing(result: Plan, drain: list[str], intent: str, summary: str) -> Proposal:
    """A drain or a replacement as a proposal: its moves and power-ons under the
    intent's reason, and each drained host powered off once its VMs have left."""
    why = MoveReason(intent)
    power = PowerReason(intent)
    return Proposal(
        intent=intent,
        moves=tuple(
            Chosen(m.vm, m.to, why, f"empty {m.source} so it can be powered off", m.source)
            for m in result.moves
        ),
        power=tuple(
            Switch(a.host, "on", power, "the hosts that stay on cannot hold the load")
            for a in result.power
            if a.action == "on"
        )
        + tuple(Switch(h, "off", power, f"{intent}: no VM left") for h in sorted(drain)),
        unmovable=result.unmovable,
        summary=summary,
        plans_computed=1,
    )


def held_by_host(scope: Scope, on: list[Host], demand: FloatArray) -> dict[str, Held]:
    """What each host of ``on`` holds, ``demand`` being each VM's forecast CPU."""
    n = len(scope.snapshot.hosts)
    where = scope.host_of
    cpu = np.bincount(where, weights=demand, minlength=n)
    mem = np.bincount(where, weights=scope.vm_memory, minlength=n)
    out: dict[str, Held] = {}
    for h in on:
        i = scope.host_index[h.name]
        m = float(mem[i])
        out[h.name] = Held(float(cpu[i]), m, int(scope.counts[i]), m / h.migration_bandwidth_mib_s)
    return out


def _costly(under: list[Host], known: list[Host], cfg: ControlSettings) -> set[str]:
    """The hosts of ``under`` that carry a core at ``pack_to`` for more power than the
    best host of ``known`` (the hosts on and the best off one), beyond the tolerance."""
    if not known:
        return set()
    bar = min(cost_w_per_core(h, cfg.pack_to) for h in known) * (1.0 + TOLERANCE)
    return {h.name for h in under if cost_w_per_core(h, cfg.pack_to) > bar}


def _choose(
    under: list[Host],
    costly: set[str],
    held: dict[str, Held],
    cfg: ControlSettings,
    cpu_only: bool,
    drainable: set[str],
) -> tuple[list[Host], list[str]]:
    """The hosts to keep (they alone receive) and those to drain now, cheapest first.

    The keepers are the hosts the fleet packs onto: efficient ones first, then the
    dearest to drain, until their room holds what all the others hold. Only they
    receive, so a VM drained now lands where it stays, not on a host drained next.
    """

    def saved(h: Host) -> float:
        table = np.array([power_table(h)])
        load = held[h.name].cpu
        own = float(watts(table, np.array([load / h.cpu_capacity_cores]))[0])
        return own - MARGINAL_W_PER_CORE * load

    def room(h: Host) -> tuple[float, float]:
        cpu = cfg.pack_to * h.cpu_capacity_cores - held[h.name].cpu
        mem = h.memory_mib * (1.0 - cfg.memory_headroom) - held[h.name].memory
        return cpu, 0.0 if cpu_only else mem

    def drain_cost(h: Host) -> float:
        s = saved(h)
        return held[h.name].vms / s if s > 0 else float("inf")

    ranked = sorted(under, key=lambda h: (drain_cost(h), h.name))
    keep_order = sorted(
        under,
        key=lambda h: (h.name in drainable, h.name in costly, -drain_cost(h), h.name),
    )
    rest_cpu = sum(held[h.name].cpu for h in under)
    rest_mem = 0.0 if cpu_only else sum(held[h.name].memory for h in under)
    free_cpu = free_mem = 0.0
    keep: list[Host] = []
    for h in keep_order:
        if free_cpu + EPS >= rest_cpu and free_mem + EPS >= rest_mem:
            break
        keep.append(h)
        cpu, mem = room(h)
        free_cpu, free_mem = free_cpu + cpu, free_mem + mem
        rest_cpu -= held[h.name].cpu
        rest_mem -= 0.0 if cpu_only else held[h.name].memory
    kept = {h.name for h in keep}
    chosen: list[str] = []
    moves, seconds = 0, 0.0
    for h in (h for h in ranked if h.name not in kept and h.name in drainable):
        own = held[h.name]
        if moves + own.vms > cfg.max_moves or seconds + own.seconds > cfg.max_migration_s:
            break
        if own.vms * cfg.min_watts_per_move > saved(h):
            break
        need_mem = 0.0 if cpu_only else own.memory
        if own.cpu > free_cpu + EPS or need_mem > free_mem + EPS:
            break
        chosen.append(h.name)
        moves += own.vms
        seconds += own.seconds
        free_cpu -= own.cpu
        free_mem -= need_mem
    return keep, chosen


def forecast_view(
    scope: Scope, hosts: list[Host], demand: FloatArray, drain: list[str]
) -> Snapshot:
    """Those hosts and their VMs at forecast demand; evacuate ``drain``."""
    cfg = scope.settings
    snapshot = scope.snapshot
    names = {h.name for h in hosts}
    rows = np.flatnonzero(np.isin(scope.host_of, [scope.host_index[n] for n in names]))
    vms = tuple(msgspec.structs.replace(snapshot.vms[j], cpu_used=float(demand[j])) for j in rows)
    load = dict.fromkeys(names, 0.0)
    for v in vms:
        load[v.host] += v.cpu_used
    swap = {h.name: msgspec.structs.replace(h, cpu_used=load[h.name]) for h in hosts}
    view = msgspec.structs.replace(restrict(snapshot, names, replace_hosts=swap), vms=vms)
    policy = msgspec.structs.replace(
        snapshot.policy,
        objective="evacuate",
        evacuate_hosts=tuple(drain),
        headroom=max(0.0, 1.0 - cfg.pack_to),
    )
    return under(view, policy, cfg.memory_headroom)


def saving_w(view: Snapshot, result: Plan) -> float:
    """Power of the hosts holding VMs before the plan minus after, at the view's load."""
    index = {h.name: i for i, h in enumerate(view.hosts)}
    cap = np.array([h.cpu_capacity_cores for h in view.hosts])
    tables = np.array([power_table(h) for h in view.hosts])
    where = {v.name: index[v.host] for v in view.vms}
    cpu = {v.name: v.cpu_used for v in view.vms}

    def power(place: dict[str, int]) -> float:
        load = np.zeros(len(cap))
        count = np.zeros(len(cap))
        for name, h in place.items():
            load[h] += cpu[name]
            count[h] += 1
        return float(watts(tables, load / cap)[count > 0].sum())

    after = dict(where)
    for m in result.moves:
        after[m.vm] = index[m.to]
    return power(where) - power(after)
