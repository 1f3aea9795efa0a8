"""Replacing less efficient hosts: an all-G4 fleet gives way to G5s, when the power
saved over the horizon pays for the migrations."""

from __future__ import annotations

import msgspec
import numpy as np

from balancer.control.power import cost_w_per_core
from balancer.control.settings import ControlSettings
from balancer.sim.replay import SIM_CONTROL, SimConfig, StepRecord, replay
from balancer.sim.workload import Workload
from balancer.traces.planetlab import reference_host
from tests.unit.sim.factories import vm

HOSTS = tuple(reference_host(i) for i in range(8))  # G4 even, G5 odd
G4_ON = (0, 2, 4)


def _g4_fleet(steps: int = 13) -> Workload:
    """36 VMs of 0.2 cores, 12 on each of three G4s (65 % each): no G4 can take
    another's load under 75 %, so no drain; two G5s can take all of it."""
    vms = tuple(vm(f"vm-{j}", f"host-{G4_ON[j % 3]}", 0.2) for j in range(36))
    cpu = np.full((len(vms), steps), 0.2)
    cpu.setflags(write=False)
    return Workload(
        hosts=HOSTS,
        vms=vms,
        cpu=cpu,
        memory_used=None,
        step_s=300.0,
        label="three G4s",
        placement=np.array([G4_ON[j % 3] for j in range(36)], dtype=np.int64),
    )


def _run(control: ControlSettings) -> tuple[set[int], float, int]:
    records: list[StepRecord] = []
    result = replay(_g4_fleet(), SimConfig(control=control), records.append)
    last = records[-1]
    holding = set(last.placement.tolist())
    # Hosts are on by the plans' power actions: those holding a VM, and no other.
    assert set(np.flatnonzero(last.powered).tolist()) == holding
    return holding, result.metrics.energy_kwh, result.metrics.migrations


def test_a_g5_carries_a_core_for_less_power_than_a_g4() -> None:
    assert cost_w_per_core(HOSTS[1], 0.75) < cost_w_per_core(HOSTS[0], 0.75)


def test_the_cycle_replaces_an_all_g4_fleet_by_g5s() -> None:
    hosts, energy, migrations = _run(SIM_CONTROL)
    assert all(h % 2 == 1 for h in hosts)  # only G5s hold VMs
    assert len(hosts) == 2
    assert migrations == 36
    kept_hosts, kept_energy, kept_migrations = _run(
        msgspec.structs.replace(SIM_CONTROL, replace_horizon_s=0.0)
    )
    assert kept_hosts == set(G4_ON)
    assert kept_migrations == 0
    assert energy < kept_energy


def test_no_replacement_when_the_horizon_is_too_short_to_pay_for_it() -> None:
    """About 80 W saved for 36 migrations: 2 W each, under 4 W for an hour in 1 h."""
    hosts, _, migrations = _run(msgspec.structs.replace(SIM_CONTROL, replace_horizon_s=3600.0))
    assert hosts == set(G4_ON)
    assert migrations == 0
