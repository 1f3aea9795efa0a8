"""The control cycle: what the daemon does this interval, decided from what is known now.

``decide(snapshot, history, memory, config) -> Decision`` is pure: the snapshot (the
placement and each VM's demand now), each VM's past samples (``history``, row i for
``snapshot.vms[i]``, the last column the current sample) and what the cycle remembers
go in; at most one plan, the hosts to power on and the new memory come out. The
simulator calls it every step; the daemon will call it the same way.

Three utilization lines give the hysteresis: consolidation fills hosts to ``pack_to``
by forecast; relief starts when a host's demand *now* is above ``relieve_above`` (in
``relieve_after`` samples running) and brings it down to ``relieve_to``. Between the
lines nothing moves.

1. Consolidate, at most every ``consolidate_every_s`` (``balancer.control.consolidation``):
   drain hosts whose forecast load the others can take under ``pack_to``, when that
   saves at least ``min_watts_per_move`` per migration. After a consolidation that
   moved VMs the next one comes at the next step, not ``consolidate_every_s`` later,
   so a spread fleet packs within an hour or two. Until a consolidation first finds
   nothing worth doing (``CycleMemory.settled``), the cycle is packing the fleet it
   started with: by the demand now, the measure of the initial placement.
2. When no drain is worth it, replace (``balancer.control.replacement``): move the VMs
   of the least efficient hosts to efficient off hosts, when the saving, counted over
   ``replace_horizon_s``, pays for the migrations.
3. Relieve the hosts over ``relieve_above`` (``balancer.control.relief``), powering on the
   most efficient off hosts when the others cannot take the load; in the same step as
   a consolidation, on the hosts the consolidation leaves alone.
4. A host left with no VM is off (the power rule of the simulator and the daemon).

Forecasts use each VM's own past only (``balancer.control.forecast``).
"""

from __future__ import annotations

import msgspec
import numpy as np

from balancer.core.models import Snapshot
from balancer.control.consolidation import consolidate
from balancer.control.cycle_config import EPS, CycleConfig, CycleMemory, Decision, nothing, util
from balancer.control.forecast import FORECASTERS
from balancer.control.power import FloatArray
from balancer.control.relief import relieve
from balancer.control.replacement import replace
from balancer.control.subset import restrict

__all__ = ["CycleConfig", "CycleMemory", "Decision", "decide"]


def decide(
    snapshot: Snapshot, history: FloatArray, memory: CycleMemory, config: CycleConfig
) -> Decision:
    over = overloaded(snapshot, history, config)
    last = memory.last_consolidation_at
    due = last is None or snapshot.taken_at - last >= config.consolidate_every_s
    if due or memory.packing:
        forecaster = FORECASTERS["last" if not memory.settled else config.forecast]
        demand = forecaster(history, config.forecast_window, config.forecast_quantile)
        packed = consolidate(snapshot, demand, memory, config)
        if packed.plan is None:
            now = history[:, -1]  # a replacement redoes the initial placement: by demand now
            packed = replace(snapshot, now, packed.memory, config) or packed
        if packed.plan is not None:
            return _and_relief(packed, snapshot, over, config)
        memory = packed.memory
    if over:
        return relieve(snapshot, over, memory, config)
    return nothing(memory)


def _and_relief(
    packed: Decision, snapshot: Snapshot, over: list[str], config: CycleConfig
) -> Decision:
    """``packed``, and the relief of the overloaded hosts it leaves alone, on the hosts
    its moves leave alone (the two plans touch no host in common)."""
    assert packed.plan is not None
    busy = {m.source for m in packed.plan.moves} | {m.to for m in packed.plan.moves}
    left = [h for h in over if h not in busy]
    if not left:
        return packed
    rest = restrict(snapshot, [h.name for h in snapshot.hosts if h.name not in busy])
    relief = relieve(rest, left, packed.memory, config)
    if relief.plan is None or not relief.plan.moves:
        return packed
    plan = msgspec.structs.replace(
        packed.plan,
        moves=packed.plan.moves + relief.plan.moves,
        power=packed.plan.power + relief.plan.power,
        unmovable=packed.plan.unmovable + relief.plan.unmovable,
    )
    return msgspec.structs.replace(
        packed,
        plan=plan,
        power_on=packed.power_on + relief.power_on,
        reason=f"{packed.reason}; {relief.reason}",
        plans_computed=packed.plans_computed + relief.plans_computed,
    )


def overloaded(snapshot: Snapshot, history: FloatArray, config: CycleConfig) -> list[str]:
    """Hosts over ``relieve_above`` now and, with the VMs they hold now, in each of the
    ``relieve_after - 1`` samples before (a burst of one sample is left alone)."""
    over = [
        h for h in snapshot.hosts if h.state == "active" and util(h) > config.relieve_above + EPS
    ]
    back = min(config.relieve_after, history.shape[1]) - 1
    if not over or back <= 0:
        return [h.name for h in over]
    index = {h.name: i for i, h in enumerate(snapshot.hosts)}
    where = np.array([index[v.host] for v in snapshot.vms], dtype=np.int64)
    past = history[:, -1 - back : -1]
    load = np.stack(
        [np.bincount(where, weights=past[:, j], minlength=len(index)) for j in range(back)],
        axis=1,
    )
    return [
        h.name
        for h in over
        if (load[index[h.name]] > config.relieve_above * h.cpu_capacity_cores + EPS).all()
    ]
