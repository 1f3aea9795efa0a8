"""Host power from CPU utilization, and energy over an interval.

A host's power table gives watts at 0, 10, ..., 100 % CPU, linear in between (SPECpower,
as the reference); ``idle_w``/``max_w`` stand for a straight line. Utilization above
100 % draws the 100 % figure. A host with no VM is off and draws nothing.

Energy between two events is the trapezoid of the power at both, the way the reference
integrates it (CloudSim's ``getEnergyLinearInterpolation``): with 800 hosts at full
power for the 287 intervals of a day, 800 x 126 W x 86,100 s = 2410.80 kWh.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from balancer.core.models import Host, Power

FloatArray = npt.NDArray[np.float64]
TABLE_POINTS = 11
JOULES_PER_KWH = 3.6e6


def power_table(host: Host) -> tuple[float, ...]:
    """The host's 11-point table (watts at 0, 10, ..., 100 % CPU); zeros when unknown."""
    return _table(host.power)


@lru_cache(maxsize=1024)
def _table(p: Power | None) -> tuple[float, ...]:
    """Hosts share a few power models: each table is computed once."""
    if p is None:
        return (0.0,) * TABLE_POINTS
    if p.table_w is not None:
        return tuple(float(w) for w in p.table_w)
    idle, peak = float(p.idle_w or 0.0), float(p.max_w or 0.0)
    return tuple(idle + (peak - idle) * i / (TABLE_POINTS - 1) for i in range(TABLE_POINTS))


def power_tables(hosts: tuple[Host, ...]) -> FloatArray:
    """Hosts x 11 watts."""
    return np.array([power_table(h) for h in hosts], dtype=np.float64).reshape(
        len(hosts), TABLE_POINTS
    )


def watts(tables: FloatArray, util: FloatArray) -> FloatArray:
    """Power of each host (rows of ``tables``) at utilization ``util`` (0..1, capped)."""
    x = np.clip(util, 0.0, 1.0) * (TABLE_POINTS - 1)
    low = np.minimum(np.floor(x).astype(np.int64), TABLE_POINTS - 2)
    rows = np.arange(len(tables))
    below, above = tables[rows, low], tables[rows, low + 1]
    out: FloatArray = below + (above - below) * (x - low)
    return out


def trapezoid_joules(
    tables: FloatArray, util_start: FloatArray, util_end: FloatArray, seconds: float
) -> FloatArray:
    """Energy of each host over ``seconds``, power linear between the two ends."""
    out: FloatArray = (watts(tables, util_start) + watts(tables, util_end)) * (seconds / 2.0)
    return out


def cost_w_per_core(host: Host, load: float) -> float:
    """Power at ``load`` (share of capacity) per core carried there: how efficient a
    host is (an HP G4 at 75 %: 39 W per core, a G5: 32 W)."""
    return _cost(host.power, host.cpu_capacity_cores, load)


@lru_cache(maxsize=4096)
def _cost(power: Power | None, cores: float, load: float) -> float:
    table = np.array([_table(power)])
    return float(watts(table, np.array([load]))[0]) / (load * cores)
