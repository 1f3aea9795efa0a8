"""The energy a fleet drew, from snapshots sampled along the run (pure).

Each sample gives every host's state and CPU use. A host that is on (active, or anything
but ``off``) draws its power table's watts at its utilization; an off host draws
nothing. Between two samples the power is taken as linear (the trapezoid, as the
simulator and the reference integrate it). The baseline, "no power management", is the
same fleet with every host on and the same total load spread over all of them in
proportion to their capacity: what the cluster would draw if no host were ever powered
off (and its load were as well balanced).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from balancer.control.power import JOULES_PER_KWH, power_tables, watts
from balancer.core.models import Snapshot


def draw_w(snapshot: Snapshot) -> tuple[float, float]:
    """Watts drawn now, and watts with every host on and the load spread evenly."""
    hosts = snapshot.hosts
    if not hosts:
        return 0.0, 0.0
    tables = power_tables(hosts)
    cap = np.array([h.cpu_capacity_cores for h in hosts])
    used = np.array([h.cpu_used for h in hosts])
    on = np.array([h.state != "off" for h in hosts])
    now = float((watts(tables, used / cap) * on).sum())
    spread = used[on].sum() / cap.sum()
    baseline = float(watts(tables, np.full(len(hosts), spread)).sum())
    return now, baseline


def energy_kwh(samples: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """``samples``: (time s, watts, baseline watts), in time order → (kWh, baseline kWh)."""
    joules = base = 0.0
    for (t0, w0, b0), (t1, w1, b1) in itertools.pairwise(samples):
        dt = max(0.0, t1 - t0)
        joules += (w0 + w1) / 2 * dt
        base += (b0 + b1) / 2 * dt
    return joules / JOULES_PER_KWH, base / JOULES_PER_KWH
