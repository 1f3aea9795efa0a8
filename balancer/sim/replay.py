"""Replay a workload, interval by interval, through the cycle, the planner and the
simulated executor; account for every interval.

Step k (k = 0 .. intervals - 1), at time k x step:
1. the snapshot: where each VM is, its demand now (sample k), when it last moved;
2. ``decide`` (``balancer.control.cycle``) with each VM's samples up to k and none after:
   the replay never hands a forecaster the future;
3. ``execute`` the decision's plan within the interval (pre-copy times, slots);
4. ``account_interval``: energy, overloaded and active host time, migration losses.

The first placement is power-aware best-fit decreasing on sample 0. No randomness: the
same workload and configuration give the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import numpy as np
import numpy.typing as npt

from balancer.core.models import CapacityMode, Policy, Slots, Snapshot
from balancer.sim.account import Cluster, IntervalFigures, TimedMove, account_interval
from balancer.control.cycle import CycleConfig, CycleMemory, Decision, decide
from balancer.control.cycle_config import Count
from balancer.sim.executor import Execution, Migration, execute
from balancer.sim.initial import Opening, cloudsim_creation, power_aware_bfd
from balancer.sim.metrics import Metrics, summarize
from balancer.sim.observe import SnapshotView
from balancer.control.power import FloatArray, power_tables
from balancer.sim.workload import Workload

IntArray = npt.NDArray[np.int64]


class SimConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    capacity_mode: CapacityMode = "cpu-only"
    #: Hours to replay; default: the whole trace (one interval fewer than samples).
    hours: float | None = None
    cycle: CycleConfig = CycleConfig()
    slots: Slots = Slots()
    #: A VM that migrated less than this long ago stays where it is (relief and packing).
    vm_cooldown_s: float = 3600.0
    #: Share of its CPU a VM loses while it migrates (the reference: 10 %).
    migration_cpu_loss: float = 0.1
    #: Dirty-page rate per busy core, MiB/s; 0, as the reference, makes a migration
    #: last RAM / bandwidth.
    dirty_mib_s_per_core: float = 0.0
    #: Samples by which what the cycle sees lags the demand: 0, as the reference, shows
    #: it the sample just taken (the demand until the next one); 1 shows it only the
    #: samples before, as if every report were one step old.
    observation_lag: Count = 0
    #: Headroom of the initial placement; default ``1 - cycle.pack_to``.
    initial_headroom: float | None = None
    #: How the initial placement picks a host to switch on (``balancer.sim.initial``).
    initial_opening: Opening = "amortized"


@dataclass(frozen=True)
class StepRecord:
    step: int
    #: Host index of each VM once the step's migrations are done.
    placement: IntArray
    migrations: tuple[Migration, ...]
    figures: IntervalFigures
    action: str
    reason: str


@dataclass(frozen=True)
class Series:
    """Per interval, for the plots: start (h), hosts on at the end, mean power (kW),
    share of the active-host time spent overloaded, migrations."""

    hours: FloatArray
    active_hosts: FloatArray
    power_kw: FloatArray
    overloaded_share: FloatArray
    migrations: FloatArray


@dataclass(frozen=True)
class SimResult:
    config: SimConfig
    metrics: Metrics
    series: Series
    #: Cycles by action ("none", "relieve", "consolidate") and ``plan()`` calls made.
    actions: dict[str, int]
    plans_computed: int


def intervals(workload: Workload, hours: float | None) -> int:
    whole = workload.steps - 1
    if hours is None:
        return whole
    return max(1, min(whole, round(hours * 3600.0 / workload.step_s)))


def replay(
    workload: Workload,
    config: SimConfig,
    on_step: Callable[[StepRecord], None] | None = None,
) -> SimResult:
    step_s = workload.step_s
    cluster = Cluster(
        cpu=np.array([h.cpu_capacity_cores for h in workload.hosts]),
        memory=np.array([float(h.memory_mib) for h in workload.hosts]),
        tables=power_tables(workload.hosts),
    )
    placement = first_placement(workload, config)
    policy = base_policy(config)
    view = SnapshotView(workload, policy, config.dirty_mib_s_per_core)
    host_index = {h.name: i for i, h in enumerate(workload.hosts)}
    vm_index = {v.name: i for i, v in enumerate(workload.vms)}
    last_moved = np.full(len(workload.vms), np.nan)
    memory = CycleMemory()
    tally = _Tally()
    window = config.cycle.forecast_window
    for k in range(intervals(workload, config.hours)):
        seen = max(0, k - config.observation_lag)
        snapshot = view.at(k, seen, placement, last_moved)
        history = workload.cpu[:, max(0, seen + 1 - window) : seen + 1]
        decision = decide(snapshot, history, memory, config.cycle)
        memory = decision.memory
        done = _execute(decision, snapshot, policy, step_s)
        moves = [
            TimedMove(vm_index[m.vm], host_index[m.source], host_index[m.dest], m.start_s, m.end_s)
            for m in done.migrations
        ]
        used = None if workload.memory_used is None else workload.memory_used[:, k]
        fig = account_interval(
            cluster,
            placement,
            moves,
            (workload.cpu[:, k], workload.cpu[:, k + 1]),
            step_s,
            cpu_loss=config.migration_cpu_loss,
            memory_used=used,
        )
        placement = placement.copy()
        for m in moves:
            placement[m.vm] = m.dest
            last_moved[m.vm] = k * step_s + m.end_s
        tally.add(decision, done, fig)
        if on_step is not None:
            on_step(
                StepRecord(k, placement, done.migrations, fig, decision.action, decision.reason)
            )
    metrics = summarize(
        tally.figures,
        tally.migrations,
        tally.deferred,
        has_memory=workload.memory_used is not None,
    )
    series = _series(tally.figures, tally.per_step, step_s)
    return SimResult(config, metrics, series, tally.actions, tally.plans)


def base_policy(config: SimConfig) -> Policy:
    """The policy every snapshot carries; the cycle derives each plan's from it."""
    return Policy(
        capacity_mode=config.capacity_mode, cooldown_s=config.vm_cooldown_s, slots=config.slots
    )


def snapshot_at(
    workload: Workload, config: SimConfig, k: int, placement: IntArray, last_moved: FloatArray
) -> Snapshot:
    """The snapshot the cycle sees at step ``k`` (VMs where ``placement`` puts them)."""
    view = SnapshotView(workload, base_policy(config), config.dirty_mib_s_per_core)
    return view.at(k, max(0, k - config.observation_lag), placement, last_moved)


def first_placement(workload: Workload, config: SimConfig) -> IntArray:
    """The workload's own placement, else power-aware best-fit decreasing on sample 0
    (``balancer.sim.initial``)."""
    if workload.placement is not None:
        return workload.placement.copy()
    memory = np.array([float(v.memory_mib) for v in workload.vms])
    if config.initial_opening == "cloudsim":
        vcpus = np.array([float(v.vcpus) for v in workload.vms])
        size = vcpus if workload.size_cores is None else workload.size_cores
        return cloudsim_creation(workload.hosts, size, memory, vcpus)
    headroom = config.initial_headroom
    return power_aware_bfd(
        workload.hosts,
        workload.cpu[:, 0],
        memory,
        headroom=1.0 - config.cycle.pack_to if headroom is None else headroom,
        capacity_mode=config.capacity_mode,
        memory_headroom=config.cycle.memory_headroom,
        opening=config.initial_opening,
    )


@dataclass
class _Tally:
    """What the replay adds up, step after step."""

    figures: list[IntervalFigures] = field(default_factory=list)
    migrations: list[Migration] = field(default_factory=list)
    per_step: list[int] = field(default_factory=list)
    actions: dict[str, int] = field(
        default_factory=lambda: {"none": 0, "relieve": 0, "consolidate": 0}
    )
    deferred: int = 0
    plans: int = 0

    def add(self, decision: Decision, done: Execution, figures: IntervalFigures) -> None:
        self.figures.append(figures)
        self.migrations.extend(done.migrations)
        self.per_step.append(len(done.migrations))
        self.actions[decision.action] += 1
        self.deferred += len(done.deferred)
        self.plans += decision.plans_computed


def _execute(decision: Decision, snapshot: Snapshot, policy: Policy, step_s: float) -> Execution:
    """The plan's moves (a host powered on for them is on once the first one starts)."""
    if decision.plan is None or not decision.plan.moves:
        return Execution((), ())
    return execute(decision.plan, snapshot, policy, step_s)


def _series(figures: list[IntervalFigures], per_step: list[int], step_s: float) -> Series:
    def arr(values: list[float]) -> FloatArray:
        return np.array(values, dtype=np.float64)

    return Series(
        hours=arr([k * step_s / 3600.0 for k in range(len(figures))]),
        active_hosts=arr([float(f.active_hosts_end) for f in figures]),
        power_kw=arr([f.energy_j / f.seconds / 1000.0 for f in figures]),
        overloaded_share=arr(
            [f.overloaded_host_s / f.active_host_s if f.active_host_s else 0.0 for f in figures]
        ),
        migrations=arr([float(m) for m in per_step]),
    )
