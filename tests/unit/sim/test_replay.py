"""A few hours of PlanetLab 20110303 through the cycle, the planner and the executor."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from balancer.control.power import power_table
from balancer.sim.placements import placement_record
from balancer.sim.replay import SimConfig, SimResult, StepRecord, replay
from balancer.sim.workload import Workload
from tests.unit.sim.factories import day_workload

HOURS = 3.0


@pytest.fixture(scope="module")
def workload() -> Workload:
    return day_workload()


@pytest.fixture(scope="module")
def run(workload: Workload) -> tuple[SimResult, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []

    def keep(record: StepRecord) -> None:
        records.append(placement_record(workload, record))

    return replay(workload, SimConfig(hours=HOURS), keep), records


def test_a_few_hours_replay(run: tuple[SimResult, list[dict[str, Any]]]) -> None:
    result, records = run
    m = result.metrics
    assert m.intervals == len(records) == 36
    assert m.hours == HOURS
    # 188 cores of demand need at least 36 G5 hosts; 800 hosts would draw ~100 kW.
    assert 36 <= m.mean_active_hosts <= 70
    assert 5.0 < m.energy_kwh < 25.0
    assert 0 < m.migrations < 36 * 20
    assert 0.0 <= m.slatah < 0.05
    assert m.slav == pytest.approx(m.slatah * m.pdm)
    assert sum(result.actions.values()) == 36
    assert result.series.active_hosts.shape == (36,)


def test_the_replay_is_deterministic(
    workload: Workload, run: tuple[SimResult, list[dict[str, Any]]]
) -> None:
    again = replay(workload, SimConfig(hours=HOURS))
    assert again.metrics == run[0].metrics


def test_each_step_record_is_consistent(
    workload: Workload, run: tuple[SimResult, list[dict[str, Any]]]
) -> None:
    _, records = run
    names = [v.name for v in workload.vms]
    before = _initial(records)
    for rec in records:
        assert set(rec) == {"step", "placement", "active_hosts", "migrations", "power"}
        assert list(rec["placement"]) == names
        for m in rec["migrations"]:
            assert set(m) == {"vm", "from", "to", "duration_s", "start_s"}
            assert before[m["vm"]] == m["from"] != m["to"] == rec["placement"][m["vm"]]
            assert 0.0 <= m["start_s"] < m["start_s"] + m["duration_s"] <= 300.0
        moved = {m["vm"] for m in rec["migrations"]}
        assert all(rec["placement"][v] == before[v] for v in names if v not in moved)
        # Hosts on: every host holding a VM, and idle ones only if powered on explicitly.
        assert set(rec["placement"].values()) <= set(rec["active_hosts"])
        assert rec["active_hosts"] == sorted(rec["active_hosts"], key=_index)
        for p in rec["power"]:
            assert p["action"] in ("on", "off")
            assert (p["host"] in rec["active_hosts"]) == (p["action"] == "on")
        before = rec["placement"]


def test_the_metrics_can_be_recomputed_from_trace_and_placements(
    workload: Workload, run: tuple[SimResult, list[dict[str, Any]]]
) -> None:
    """An independent integration of the records gives the replay's figures."""
    result, records = run
    got = _recompute(workload, records)
    m = result.metrics
    assert got["energy_kwh"] == pytest.approx(m.energy_kwh, rel=1e-6)
    assert got["slatah"] == pytest.approx(m.slatah, rel=1e-6, abs=1e-12)
    assert got["pdm"] == pytest.approx(m.pdm, rel=1e-4)
    assert got["migrations"] == m.migrations


def _index(host: str) -> int:
    return int(host.removeprefix("host-"))


def _initial(records: list[dict[str, Any]]) -> dict[str, str]:
    first = dict(records[0]["placement"])
    for m in records[0]["migrations"]:
        first[m["vm"]] = m["from"]
    return first


def _recompute(workload: Workload, records: list[dict[str, Any]]) -> dict[str, float]:
    """Energy, SLATAH and PDM from the JSON records and the demand matrix alone."""
    names = [v.name for v in workload.vms]
    row = {n: j for j, n in enumerate(names)}
    cap = {h.name: h.cpu_capacity_cores for h in workload.hosts}
    table = {h.name: list(power_table(h)) for h in workload.hosts}
    grid = np.linspace(0.0, 1.0, 11)
    energy = overloaded = active = lost = demand = 0.0
    where = _initial(records)
    powered = set(where.values())
    for rec in records:
        k = rec["step"]
        d0, d1 = workload.cpu[:, k], workload.cpu[:, k + 1]
        moving = {m["vm"]: m for m in rec["migrations"]}
        cuts = sorted(
            {0.0, 300.0}
            | {m["start_s"] for m in moving.values()}
            | {m["start_s"] + m["duration_s"] for m in moving.values()}
            | {p["at_s"] for p in rec["power"]}
        )
        for a, b in itertools.pairwise(cuts):
            mid = (a + b) / 2
            load0: dict[str, float] = {}
            load1: dict[str, float] = {}
            on: set[str] = set()
            for v in names:
                m = moving.get(v)
                if m is None:
                    host = where[v]
                else:
                    landed = mid >= m["start_s"] + m["duration_s"]
                    host = m["to"] if landed else m["from"]
                    if m["start_s"] <= mid and not landed:
                        on.add(m["to"])
                load0[host] = load0.get(host, 0.0) + d0[row[v]]
                load1[host] = load1.get(host, 0.0) + d1[row[v]]
            on |= set(load0)
            on |= powered
            for p in rec["power"]:  # switched by then
                if p["at_s"] <= mid:
                    (on.add if p["action"] == "on" else on.discard)(p["host"])
            on |= set(load0)
            for h in on:
                u0, u1 = load0.get(h, 0.0), load1.get(h, 0.0)
                ua, ub = (u0 + (u1 - u0) * t / 300.0 for t in (a, b))
                pa, pb = (float(np.interp(min(u / cap[h], 1.0), grid, table[h])) for u in (ua, ub))
                energy += (pa + pb) / 2 * (b - a)
                active += b - a
                if u0 > cap[h] + 1e-9:
                    overloaded += b - a
        lost += sum(0.1 * d0[row[v]] * m["duration_s"] for v, m in moving.items())
        demand += float(d0.sum()) * 300.0
        where = rec["placement"]
        powered = set(rec["active_hosts"])
    return {
        "energy_kwh": energy / 3.6e6,
        "slatah": overloaded / active,
        "pdm": lost / demand,
        "migrations": sum(len(r["migrations"]) for r in records),
    }
