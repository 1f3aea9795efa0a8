"""The figures of a replay, as the reference defines them (../shared/data/README.md).

- energy: Σ over intervals and hosts that are on of the trapezoid of their power (kWh);
- SLATAH: time hosts spend overloaded (demand above 100 % CPU) / time hosts are on;
- PDM: CPU demand lost to migrations (10 % of a migrating VM's demand while it moves) /
  total CPU demand;
- SLAV = SLATAH x PDM; ESV = energy (kWh) x SLAV;
- migrations; their total and mean time, downtime and bytes; moves planned but not
  started in their interval; hosts switched on and off; peak and mean active hosts;
  mean CPU (and memory) use of the hosts that are on.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from balancer.control.power import JOULES_PER_KWH
from balancer.sim.account import IntervalFigures
from balancer.sim.executor import Migration


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    intervals: int
    hours: float
    energy_kwh: float
    slatah: float
    pdm: float
    slav: float
    esv: float
    migrations: int
    migration_time_total_s: float
    migration_time_mean_s: float
    downtime_total_ms: float
    downtime_max_ms: float
    migrated_gib: float
    deferred_moves: int
    hosts_powered_on: int
    hosts_powered_off: int
    peak_active_hosts: int
    mean_active_hosts: float
    mean_cpu_util_active: float
    mean_memory_used_active: float | None
    overloaded_host_hours: float
    active_host_hours: float


def summarize(
    figures: Sequence[IntervalFigures],
    migrations: Sequence[Migration],
    deferred: int,
    *,
    has_memory: bool,
) -> Metrics:
    seconds = sum(f.seconds for f in figures)
    active = sum(f.active_host_s for f in figures)
    overloaded = sum(f.overloaded_host_s for f in figures)
    demand = sum(f.demand_core_s for f in figures)
    lost = sum(f.lost_core_s for f in figures)
    capacity = sum(f.capacity_core_s for f in figures)
    mem_cap = sum(f.memory_capacity_mib_s for f in figures)
    energy = sum(f.energy_j for f in figures) / JOULES_PER_KWH
    slatah = overloaded / active if active > 0 else 0.0
    pdm = lost / demand if demand > 0 else 0.0
    durations = [m.duration_s for m in migrations]
    return Metrics(
        intervals=len(figures),
        hours=seconds / 3600.0,
        energy_kwh=energy,
        slatah=slatah,
        pdm=pdm,
        slav=slatah * pdm,
        esv=energy * slatah * pdm,
        migrations=len(migrations),
        migration_time_total_s=sum(durations),
        migration_time_mean_s=sum(durations) / len(durations) if durations else 0.0,
        downtime_total_ms=sum(m.downtime_ms for m in migrations),
        downtime_max_ms=max((m.downtime_ms for m in migrations), default=0.0),
        migrated_gib=sum(m.bytes for m in migrations) / 2**30,
        deferred_moves=deferred,
        hosts_powered_on=sum(f.powered_on for f in figures),
        hosts_powered_off=sum(f.powered_off for f in figures),
        peak_active_hosts=max((f.peak_active_hosts for f in figures), default=0),
        mean_active_hosts=active / seconds if seconds > 0 else 0.0,
        mean_cpu_util_active=sum(f.used_core_s for f in figures) / capacity if capacity else 0.0,
        mean_memory_used_active=(
            sum(f.memory_used_mib_s for f in figures) / mem_cap if has_memory and mem_cap else None
        ),
        overloaded_host_hours=overloaded / 3600.0,
        active_host_hours=active / 3600.0,
    )
