"""``balancer fleet sim`` as a process: every host reports the way an agent does, VM loads
follow the trace at the reports' fleet time, and the real planner can move VMs between
the simulated hosts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from balancer.core.models import Policy
from balancer.core.planner import plan
from balancer.core.verify import violations
from balancer.fleet.load import vm_cores
from balancer.fleet.store import FleetStore
from balancer.state.snapshot_read import snapshot_from_redis
from tests.integration.fleet_processes import Fleet, Process, processes, wait_until

__all__ = ["processes"]
pytestmark = pytest.mark.redis
HOSTS, VMS = 6, 40


def test_the_fleet_publishes_reports_the_planner_can_act_on(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", str(HOSTS), "--vms", str(VMS),
                  "--seed", "3", "--speed", "20", "--interval", "10")  # fmt: skip
    processes.append(fleet)
    snapshot = snapshot_from_redis(fleet.client, now=fleet.clock.now())
    assert len(snapshot.hosts) == HOSTS
    assert {h.state for h in snapshot.hosts} == {"active"}
    assert len(snapshot.vms) == VMS
    assert snapshot.taken_at == pytest.approx(fleet.clock.now(), abs=5)

    store = FleetStore(fleet.client, fleet.keys)
    info, trace = store.info(), store.trace()
    loads = []
    for host in snapshot.hosts:
        report = fleet.report(host.name)
        assert report is not None
        assert report.interval_s == 10.0
        assert report.ttl_s == pytest.approx(30.0 / 20, rel=0.01)  # real seconds
        for vm in report.vms:
            facts = store.vm(vm.name)
            assert facts is not None
            want = vm_cores(trace, info.trace_step_s, info.trace_t0, report.collected_at,
                            facts.row, facts.offset, facts.size_cores)  # fmt: skip
            assert vm.cpu_used == pytest.approx(want, abs=1e-4)
            loads.append(vm.cpu_used)
        assert report.host.cpu_used == pytest.approx(sum(v.cpu_used for v in report.vms), abs=1e-3)
    assert np.std(loads) > 0.01  # not a constant load

    first = fleet.report(snapshot.hosts[0].name)
    assert first is not None
    wait_until("a later report", lambda: fleet.seq(first.host.name) > first.seq)
    later = fleet.report(first.host.name)
    assert later is not None
    # An interval later, give or take the pacing of the round's slices on a busy machine.
    assert later.collected_at - first.collected_at == pytest.approx(10.0, rel=0.1)

    busiest = max(snapshot.hosts, key=lambda h: sum(v.host == h.name for v in snapshot.vms))
    policy = Policy(objective="evacuate", evacuate_hosts=(busiest.name,))
    evacuation = plan(snapshot, policy)
    on_host = {v.name for v in snapshot.vms if v.host == busiest.name}
    assert {m.vm for m in evacuation.moves} == on_host
    assert all(m.to != busiest.name for m in evacuation.moves)
    assert violations(snapshot, policy, evacuation) == []
    assert fleet.stop() == 0
