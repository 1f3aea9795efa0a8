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

1. Consolidate, at most every ``consolidate_every_s`` (``balancer.sim.consolidation``):
   drain hosts whose forecast load the others can take under ``pack_to``, when that
   saves at least ``min_watts_per_move`` per migration.
2. Otherwise relieve the hosts over ``relieve_above`` (``balancer.sim.relief``),
   powering on the most efficient off hosts when the others cannot take the load.
3. A host left with no VM is off (the power rule of the simulator and the daemon).

Forecasts use each VM's own past only (``balancer.sim.forecast``).
"""

from __future__ import annotations

import numpy as np

from balancer.core.models import Snapshot
from balancer.sim.consolidation import consolidate
from balancer.sim.cycle_config import EPS, CycleConfig, CycleMemory, Decision, nothing, util
from balancer.sim.forecast import FORECASTERS
from balancer.sim.power import FloatArray
from balancer.sim.relief import relieve

__all__ = ["CycleConfig", "CycleMemory", "Decision", "decide"]


def decide(
    snapshot: Snapshot, history: FloatArray, memory: CycleMemory, config: CycleConfig
) -> Decision:
    last = memory.last_consolidation_at
    if last is None or snapshot.taken_at - last >= config.consolidate_every_s:
        demand = FORECASTERS[config.forecast](
            history, config.forecast_window, config.forecast_quantile
        )
        packed = consolidate(snapshot, demand, memory, config)
        if packed.plan is not None:
            return packed
        memory = packed.memory
    over = overloaded(snapshot, history, config)
    if over:
        return relieve(snapshot, over, memory, config)
    return nothing(memory)


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
