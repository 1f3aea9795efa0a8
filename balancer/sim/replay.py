"""Replay a workload, interval by interval, through the control loop, the planner and
the simulated executor; account for every interval.

Step k (k = 0 .. intervals - 1), at time k x step, is one ``run_cycle``
(``balancer.control.loop``) through in-memory ports:
1. the snapshot (``SnapshotSource``: the replay's view): where each VM is, its demand
   now (sample k), when it last moved, which hosts are on;
2. the history (``MemoryHistory``): what the snapshots showed, so the cycle never sees
   a sample after the current one;
3. ``decide`` (``balancer.control.cycle``), and the plan sent to the simulated
   executor (``SimulatedSink``), which carries it out within the interval (pre-copy
   times, slots, power actions);
4. ``account_interval``: energy, overloaded and active host time, migration losses.

The first placement is power-aware best-fit decreasing on sample 0. No randomness: the
same workload and configuration give the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import numpy as np
import numpy.typing as npt

from balancer.control.loop import Ports, run_cycle
from balancer.control.memory_ports import (
    ManualClock,
    MemoryCoordination,
    MemoryHistory,
    MemoryStore,
)
from balancer.control.power import FloatArray, power_tables
from balancer.control.records import CycleRecord
from balancer.control.settings import ControlSettings
from balancer.core.models import CapacityMode, Policy, Slots, Snapshot
from balancer.sim.account import Cluster, IntervalFigures, TimedMove, TimedSwitch, account_interval
from balancer.sim.executor import Execution, Migration, PowerDone, SimulatedSink
from balancer.sim.initial import Opening, cloudsim_creation, power_aware_bfd
from balancer.sim.metrics import Metrics, summarize
from balancer.sim.observe import SnapshotView
from balancer.sim.workload import Workload

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: The control settings of a replay: the daemon's, but for a trace of 300 s steps and the
#: reference's set-up: no balance plans (the reference makes none), no power-on for
#: capacity alone (relief powers hosts on when they are needed: with the sum of each
#: VM's forecast as the load, a line at 90 % or 100 % powers on hosts that then idle,
#: 20110303's first 6 h cost 39.1-41.9 kWh instead of 35.4), and switching as instant
#: and free as in the reference (no minimum on or off time: an hour on costs the
#: CloudSim start 4 kWh on 20110309); the daily budget holds. docs/evaluation.md has
#: the daemon's rules on the replay.
SIM_CONTROL = ControlSettings(
    sample_every_s=300.0,
    relief_cooldown_s=None,
    balance_above=None,
    power_on_above=None,
    min_on_s=0.0,
    min_off_s=0.0,
    power_cycles_per_day=4,
    boot_s=300.0,
)


class SimConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    capacity_mode: CapacityMode = "cpu-only"
    #: Hours to replay; default: the whole trace (one interval fewer than samples).
    hours: float | None = None
    #: The control loop's settings (``sample_every_s`` becomes the trace's step).
    control: ControlSettings = SIM_CONTROL
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
    observation_lag: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: Headroom of the initial placement; default ``1 - control.pack_to``.
    initial_headroom: float | None = None
    #: How the initial placement picks a host to switch on (``balancer.sim.initial``).
    initial_opening: Opening = "amortized"


def load_config(text: str | bytes) -> SimConfig:
    """A ``SimConfig`` from JSON: the fields given, over the defaults (``control``'s too,
    so ``{"control": {"pack_to": 0.8}}`` keeps the replay's other control settings).
    Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` naming the bad field."""
    given = msgspec.json.decode(text)
    if not isinstance(given, dict):
        raise msgspec.ValidationError("Expected `object`, got a JSON value of another type")
    base: dict[str, Any] = msgspec.to_builtins(SimConfig())
    control = given.get("control")
    if isinstance(control, dict):
        given = {**given, "control": {**base["control"], **control}}
    return msgspec.convert({**base, **given}, SimConfig)


@dataclass(frozen=True)
class StepRecord:
    step: int
    #: Host index of each VM once the step's migrations are done.
    placement: IntArray
    migrations: tuple[Migration, ...]
    figures: IntervalFigures
    #: The intents that acted (highest priority first) and the cycle's summary.
    intents: tuple[str, ...]
    summary: str
    #: Power actions carried out in the step.
    switches: tuple[PowerDone, ...] = ()
    #: Hosts on once the step is over.
    powered: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))


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
    #: Cycles in which each intent acted ("none": no intent) and ``plan()`` calls made.
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
    settings = msgspec.structs.replace(config.control, sample_every_s=step_s)
    cluster = Cluster(
        cpu=np.array([h.cpu_capacity_cores for h in workload.hosts]),
        memory=np.array([float(h.memory_mib) for h in workload.hosts]),
        tables=power_tables(workload.hosts),
    )
    policy = base_policy(config)
    world = _World(workload, config, policy)
    sink = SimulatedSink(policy, step_s)
    clock = ManualClock()
    ports = Ports(
        clock=clock,
        snapshots=world,
        history=MemoryHistory(step_s, keep_s=settings.history_s() + step_s),
        store=MemoryStore(),
        sink=sink,
        coordination=MemoryCoordination(),
    )
    host_index = {h.name: i for i, h in enumerate(workload.hosts)}
    vm_index = {v.name: i for i, v in enumerate(workload.vms)}
    tally = _Tally()
    for k in range(intervals(workload, config.hours)):
        clock.set(k * step_s)
        world.step = k
        record = run_cycle(ports, settings)
        done = sink.take()
        moves = [
            TimedMove(vm_index[m.vm], host_index[m.source], host_index[m.dest], m.start_s, m.end_s)
            for m in done.migrations
        ]
        switches = [TimedSwitch(host_index[s.host], s.on, s.at_s) for s in done.switches]
        used = None if workload.memory_used is None else workload.memory_used[:, k]
        fig = account_interval(
            cluster,
            world.placement,
            moves,
            (workload.cpu[:, k], workload.cpu[:, k + 1]),
            step_s,
            cpu_loss=config.migration_cpu_loss,
            powered=world.powered,
            switches=switches,
            memory_used=used,
        )
        world.carry_out(k, moves, switches)
        tally.add(record, done, fig)
        if on_step is not None:
            on_step(
                StepRecord(
                    k,
                    world.placement,
                    done.migrations,
                    fig,
                    record.intents,
                    record.summary,
                    done.switches,
                    world.powered.copy(),
                )
            )
    metrics = summarize(
        tally.figures,
        tally.migrations,
        tally.deferred,
        has_memory=workload.memory_used is not None,
    )
    series = _series(tally.figures, tally.per_step, step_s)
    return SimResult(config, metrics, series, tally.actions, tally.plans)


class _World:
    """The simulated cluster: where the VMs are, which hosts are on; the loop's
    ``SnapshotSource`` (what it shows at a step: the sample observed then)."""

    def __init__(self, workload: Workload, config: SimConfig, policy: Policy) -> None:
        self.view = SnapshotView(workload, policy, config.dirty_mib_s_per_core)
        self.lag = config.observation_lag
        self.step_s = workload.step_s
        self.placement = first_placement(workload, config)
        self.powered: BoolArray = np.bincount(self.placement, minlength=len(workload.hosts)) > 0
        self.last_moved: FloatArray = np.full(len(workload.vms), np.nan)
        self.step = 0

    def snapshot(self, now: float) -> Snapshot:
        k = self.step
        return self.view.at(k, max(0, k - self.lag), self.placement, self.last_moved, self.powered)

    def carry_out(self, k: int, moves: list[TimedMove], switches: list[TimedSwitch]) -> None:
        self.placement = self.placement.copy()
        for m in moves:
            self.placement[m.vm] = m.dest
            self.last_moved[m.vm] = k * self.step_s + m.end_s
        self.powered = self.powered.copy()
        for s in sorted(switches, key=lambda x: x.at_s):
            self.powered[s.host] = s.on
        self.powered |= np.bincount(self.placement, minlength=len(self.powered)) > 0


def base_policy(config: SimConfig) -> Policy:
    """The policy every snapshot carries; the cycle derives each plan's from it."""
    return Policy(
        capacity_mode=config.capacity_mode, cooldown_s=config.vm_cooldown_s, slots=config.slots
    )


def snapshot_at(
    workload: Workload, config: SimConfig, k: int, placement: IntArray, last_moved: FloatArray
) -> Snapshot:  # hosts holding a VM on
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
        headroom=1.0 - config.control.pack_to if headroom is None else headroom,
        capacity_mode=config.capacity_mode,
        memory_headroom=config.control.memory_headroom,
        opening=config.initial_opening,
    )


#: The intents a replay counts cycles of ("none": a cycle where none acted).
INTENTS = ("none", "evacuation", "capacity", "relief", "balance", "consolidation",
           "replacement", "idle")  # fmt: skip


@dataclass
class _Tally:
    """What the replay adds up, step after step."""

    figures: list[IntervalFigures] = field(default_factory=list)
    migrations: list[Migration] = field(default_factory=list)
    per_step: list[int] = field(default_factory=list)
    actions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INTENTS, 0))
    deferred: int = 0
    plans: int = 0

    def add(self, record: CycleRecord, done: Execution, figures: IntervalFigures) -> None:
        self.figures.append(figures)
        self.migrations.extend(done.migrations)
        self.per_step.append(len(done.migrations))
        for intent in record.intents or ("none",):
            self.actions[intent] = self.actions.get(intent, 0) + 1
        self.deferred += len(done.deferred)
        self.plans += record.plans_computed


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
