"""What one interval costs: energy, active and overloaded host time, demand lost to
migrations, hosts switched on and off.

Interval k runs from sample k to sample k + 1 (``seconds`` long). Within it:

- A VM's demand is its sample k for the SLA (the reference records host states at the
  step and holds them until the next event) and goes linearly from sample k to k + 1
  for power. Energy is the trapezoid of each host's power between consecutive events
  (the interval's ends, every migration's start and end), as the reference integrates
  it at every event: with no migration, (P(u_k) + P(u_k+1)) / 2 x the interval.
- A migrating VM runs on its source until the migration ends, then on its destination;
  it loses ``cpu_loss`` (10 % in the reference) of its demand meanwhile (PDM).
- A host is on or off by the plans' explicit power actions: on at the interval's start
  (``powered``) and switched at the times ``switches`` give; a host that is on with no
  VM draws its idle power, a host that is off 0 W. (A host holding or receiving a VM is
  counted on whatever it was told: a VM cannot run on a host that is off.)
- A host is overloaded while its VMs demand more CPU than it has (SLATAH).

Hosts that nothing moves to or from and nothing switches keep their VMs and their power
all along and are computed together (numpy); the few that a migration or a power action
touches change at its start and end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancer.control.power import FloatArray, watts

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class TimedSwitch:
    """A power action by index: host, on (``True``) or off, when (s into the interval)."""

    host: int
    on: bool
    at_s: float


@dataclass(frozen=True, slots=True)
class TimedMove:
    """A migration by indices: VM, source host, destination host, start and end (s)."""

    vm: int
    source: int
    dest: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Cluster:
    """The fixed facts the accounting needs: each host's CPU and memory capacity and
    power table."""

    cpu: FloatArray
    memory: FloatArray
    tables: FloatArray


@dataclass(frozen=True, slots=True)
class IntervalFigures:
    seconds: float
    energy_j: float
    active_host_s: float
    overloaded_host_s: float
    #: Σ demand x time (core-seconds), and what migrations took of it.
    demand_core_s: float
    lost_core_s: float
    #: Σ CPU used (at most capacity) and Σ capacity over the hosts that are on (core-s).
    used_core_s: float
    capacity_core_s: float
    #: Memory used and memory capacity of the hosts on at the end (MiB-s); 0 if unknown.
    memory_used_mib_s: float
    memory_capacity_mib_s: float
    active_hosts_end: int
    peak_active_hosts: int
    overloaded_hosts: int
    powered_on: int
    powered_off: int


def account_interval(
    cluster: Cluster,
    placement: IntArray,
    moves: Sequence[TimedMove],
    demand: tuple[FloatArray, FloatArray],
    seconds: float,
    *,
    cpu_loss: float,
    powered: BoolArray | None = None,
    switches: Sequence[TimedSwitch] = (),
    memory_used: FloatArray | None = None,
) -> IntervalFigures:
    """Figures of the interval that starts with ``placement`` and the hosts ``powered``
    (default: those holding a VM) and runs ``moves`` and ``switches``; ``demand`` is
    each VM's CPU demand at the interval's start and end (cores)."""
    d0, d1 = demand
    n_hosts = len(cluster.cpu)
    moving = np.zeros(len(placement), dtype=np.bool_)
    moving[[m.vm for m in moves]] = True
    still = placement[~moving]
    count = np.bincount(still, minlength=n_hosts).astype(np.int64)
    load0 = np.bincount(still, weights=d0[~moving], minlength=n_hosts).astype(np.float64)
    load1 = np.bincount(still, weights=d1[~moving], minlength=n_hosts).astype(np.float64)
    if powered is None:
        powered = np.bincount(placement, minlength=n_hosts) > 0
    touched = np.zeros(n_hosts, dtype=np.bool_)
    touched[[m.source for m in moves]] = True
    touched[[m.dest for m in moves]] = True
    touched[[s.host for s in switches]] = True

    on = (powered | (count > 0)) & ~touched
    cap = cluster.cpu
    over = on & (load0 > cap + EPS)
    cuts = _cuts(moves, switches, seconds)
    energy = float(
        _joules(
            cluster.tables[on], load0[on][:, None], load1[on][:, None], cap[on], cuts, seconds
        ).sum()
    )
    figures = _Sums(
        energy_j=energy,
        active_host_s=seconds * int(on.sum()),
        overloaded_host_s=seconds * int(over.sum()),
        used_core_s=seconds * float(np.minimum(load0[on], cap[on]).sum()),
        capacity_core_s=seconds * float(cap[on].sum()),
    )
    peak = int(on.sum())
    overloaded = int(over.sum())
    if moves or switches:
        hosts = np.flatnonzero(touched)
        part = _touched(
            cluster,
            hosts,
            moves,
            (count, load0, load1),
            demand,
            cuts,
            _power(hosts, powered, switches, cuts),
        )
        figures = figures.plus(part.sums)
        peak += part.peak
        overloaded += part.overloaded

    end = placement.copy()
    for m in moves:
        end[m.vm] = m.dest
    on_end = powered.copy()
    for sw in sorted(switches, key=lambda x: x.at_s):
        on_end[sw.host] = sw.on
    on_end |= np.bincount(end, minlength=n_hosts) > 0
    mem_used = mem_cap = 0.0
    if memory_used is not None:
        mem_used = seconds * float(memory_used.sum())
        mem_cap = seconds * float(cluster.memory[on_end].sum())
    return IntervalFigures(
        seconds=seconds,
        energy_j=figures.energy_j,
        active_host_s=figures.active_host_s,
        overloaded_host_s=figures.overloaded_host_s,
        demand_core_s=seconds * float(d0.sum()),
        lost_core_s=cpu_loss * sum(float(d0[m.vm]) * (m.end_s - m.start_s) for m in moves),
        used_core_s=figures.used_core_s,
        capacity_core_s=figures.capacity_core_s,
        memory_used_mib_s=mem_used,
        memory_capacity_mib_s=mem_cap,
        active_hosts_end=int(on_end.sum()),
        peak_active_hosts=peak,
        overloaded_hosts=overloaded,
        powered_on=sum(1 for sw in switches if sw.on and not powered[sw.host]),
        powered_off=sum(1 for sw in switches if not sw.on and powered[sw.host]),
    )


@dataclass(frozen=True, slots=True)
class _Sums:
    energy_j: float
    active_host_s: float
    overloaded_host_s: float
    used_core_s: float
    capacity_core_s: float

    def plus(self, other: _Sums) -> _Sums:
        return _Sums(
            self.energy_j + other.energy_j,
            self.active_host_s + other.active_host_s,
            self.overloaded_host_s + other.overloaded_host_s,
            self.used_core_s + other.used_core_s,
            self.capacity_core_s + other.capacity_core_s,
        )


@dataclass(frozen=True, slots=True)
class _Touched:
    sums: _Sums
    peak: int
    overloaded: int


def _cuts(
    moves: Sequence[TimedMove], switches: Sequence[TimedSwitch], seconds: float
) -> FloatArray:
    """The interval's events: its ends, every migration's start and end, every switch."""
    times = [0.0, seconds, *(m.start_s for m in moves), *(m.end_s for m in moves)]
    times += [s.at_s for s in switches]
    out: FloatArray = np.unique(np.clip(np.array(times), 0.0, seconds))
    return out


def _joules(
    tables: FloatArray,
    load0: FloatArray,
    load1: FloatArray,
    cap: FloatArray,
    cuts: FloatArray,
    seconds: float,
) -> FloatArray:
    """Hosts x segments: the trapezoid of each host's power between consecutive events,
    its load going linearly from ``load0`` to ``load1`` (hosts x segments, or x 1)."""
    a, b = cuts[:-1][None, :], cuts[1:][None, :]
    u_a = (load0 + (load1 - load0) * (a / seconds)) / cap[:, None]
    u_b = (load0 + (load1 - load0) * (b / seconds)) / cap[:, None]
    rows = np.repeat(tables, u_a.shape[1], axis=0)
    p_a = watts(rows, u_a.ravel()).reshape(u_a.shape)
    p_b = watts(rows, u_b.ravel()).reshape(u_b.shape)
    out: FloatArray = (p_a + p_b) / 2 * (b - a)
    return out


def _power(
    hosts: IntArray, powered: BoolArray, switches: Sequence[TimedSwitch], cuts: FloatArray
) -> BoolArray:
    """Hosts x segments: on by the power actions (at the interval's start, then as
    switched)."""
    mid = (cuts[:-1] + cuts[1:]) / 2
    state = np.repeat(powered[hosts][:, None], len(mid), axis=1)
    row = {int(h): i for i, h in enumerate(hosts)}
    for sw in sorted(switches, key=lambda x: x.at_s):
        state[row[sw.host], mid >= sw.at_s] = sw.on
    return state


def _touched(
    cluster: Cluster,
    hosts: IntArray,
    moves: Sequence[TimedMove],
    base: tuple[IntArray, FloatArray, FloatArray],
    demand: tuple[FloatArray, FloatArray],
    cuts: FloatArray,
    power: BoolArray,
) -> _Touched:
    """The hosts a migration or a switch touches, segment by segment (split at every
    event)."""
    count, load0, load1 = base
    d0, d1 = demand
    start = np.array([m.start_s for m in moves], dtype=np.float64)
    end = np.array([m.end_s for m in moves], dtype=np.float64)
    a, b = cuts[:-1], cuts[1:]
    mid = (a + b) / 2
    on_source = (mid[None, :] < end[:, None]).astype(np.float64)  # moves x segments
    on_dest = 1.0 - on_source
    receiving = (start[:, None] <= mid[None, :]) & (mid[None, :] < end[:, None])
    src = (np.array([m.source for m in moves], dtype=np.int64)[None, :] == hosts[:, None]).astype(
        np.float64
    )
    dst = (np.array([m.dest for m in moves], dtype=np.int64)[None, :] == hosts[:, None]).astype(
        np.float64
    )
    vm = np.array([m.vm for m in moves], dtype=np.int64)

    def stacked(base_h: FloatArray, per_vm: FloatArray) -> FloatArray:
        out: FloatArray = (
            base_h[hosts][:, None]
            + src @ (on_source * per_vm[vm][:, None])
            + dst @ (on_dest * per_vm[vm][:, None])
        )
        return out

    members = stacked(count.astype(np.float64), np.ones(len(d0)))
    on = power | (members > 0.5) | ((dst @ receiving.astype(np.float64)) > 0.5)
    l0, l1 = stacked(load0, d0), stacked(load1, d1)
    cap = cluster.cpu[hosts][:, None]
    joules = _joules(cluster.tables[hosts], l0, l1, cluster.cpu[hosts], cuts, cuts[-1])
    width = (b - a)[None, :]
    over = on & (l0 > cap + EPS)
    return _Touched(
        sums=_Sums(
            energy_j=float((joules * on).sum()),
            active_host_s=float((width * on).sum()),
            overloaded_host_s=float((width * over).sum()),
            used_core_s=float((np.minimum(l0, cap) * width * on).sum()),
            capacity_core_s=float((cap * width * on).sum()),
        ),
        peak=int(on.sum(axis=0).max()),
        overloaded=int(over.any(axis=1).sum()),
    )
