"""The non-zero memory a migration measured goes from the executor's outcome record into
the store (the destination host's ``vm-resident-mib``, in the record's transaction), from
there through that host's agent's report into the snapshot's ``Vm.resident_mib``, and into
the next plan's estimate of that VM."""

from __future__ import annotations

import fakeredis
import msgspec

from balancer.core.migration_model import MIB
from balancer.core.models import Policy, Snapshot
from balancer.core.planner import plan
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.publish import publish_report
from balancer.state.report import with_resident
from balancer.state.snapshot_read import snapshot_from_redis
from tests.unit.state.factories import report
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.machine import Executor
from workers.executor.order import MigrationOrder, decode
from workers.executor.records import Actual, MigrationRecord, RedisRecorder
from workers.executor.simulated import SimClock, SimulatedHypervisor, SimVm

EVACUATE_A = Policy(objective="evacuate", evacuate_hosts=("a",))
EVACUATE_B = Policy(objective="evacuate", evacuate_hosts=("b",))


def _migrate(client: fakeredis.FakeRedis, vm: SimVm, mode: str = "live") -> MigrationRecord:
    clock = SimClock()
    hv = SimulatedHypervisor(clock=clock.now, default_bandwidth_mib_s=100)
    hv.hosts = {"a": {}, "b": {}}
    hv.add("a", "vm1", vm)
    ex = Executor(hv, Fence(client), Coordinator(client), RedisRecorder(client),
                  clock=clock.now, sleep=clock.sleep)  # fmt: skip
    fields = {"vm": "vm1", "source": "a", "dest": "b", "mode": mode, "bandwidth_mib_s": 128}
    order: MigrationOrder = decode(
        {**fields, "memory_mib": vm.memory_mib, "expected_state": vm.state}
    )
    return ex.run(order, token="t1")


def _snapshot(client: fakeredis.FakeRedis, vm_on: str = "a") -> Snapshot:
    """Both agents publish as the agent does (twice: each publish brings back the host's
    measures, the next report carries them)."""
    for _ in range(2):
        for name in ("a", "b"):
            vms = ("vm1",) if name == vm_on else ()
            r = report(name, vms, memory_mib=1024, dirty_rate_mib_s=4.0)
            measures = publish_report(client, KEYS, r).resident_mib
            publish_report(client, KEYS, with_resident(r, measures))
    return snapshot_from_redis(client, keys=KEYS)


def test_a_completed_migration_stores_its_non_zero_memory(client: fakeredis.FakeRedis) -> None:
    out = _migrate(client, SimVm(memory_mib=1024, resident_mib=256))
    assert out.actual is not None
    assert out.actual.nonzero_bytes == 256 * MIB
    assert client.hget(KEYS.vm_resident("b"), "vm1") == b"256.0"  # where it runs now
    assert client.hget(KEYS.vm_resident("a"), "vm1") is None
    stored = msgspec.json.decode(client.get("kvmb:exec:outcome:vm1") or b"", type=MigrationRecord)
    assert stored.actual is not None
    assert stored.actual.nonzero_bytes == 256 * MIB  # the same figure as the outcome


def test_the_measure_reaches_the_snapshot_and_the_next_plan(client: fakeredis.FakeRedis) -> None:
    before = plan(_snapshot(client), EVACUATE_A).moves[0].estimate
    _migrate(client, SimVm(memory_mib=1024, resident_mib=256))
    snap = _snapshot(client, vm_on="b")  # the agents' reports: vm1 now on b
    [guest] = snap.vms
    assert (guest.host, guest.resident_mib) == ("b", 256.0)
    [move] = plan(snap, EVACUATE_B).moves
    assert move.estimate.bytes < before.bytes / 3
    assert move.estimate.duration_s < before.duration_s / 3
    assert move.estimate.bytes >= 256 * MIB  # round 0 still sends the written memory


def _failed(nonzero_bytes: int | None) -> MigrationRecord:
    """vm1's move back from b to a that failed (the VM stays on b)."""
    return MigrationRecord(
        id="m2",
        reason="balance",
        epoch=None,
        vm="vm1",
        source="b",
        dest="a",
        mode="live",
        result="failed",
        started_at=1.0,
        finished_at=2.0,
        predicted=None,
        actual=Actual(duration_s=1.0, downtime_ms=None, bytes=None, nonzero_bytes=nonzero_bytes),
        steps=(),
    )


def test_an_outcome_without_a_measure_keeps_the_last_one(client: fakeredis.FakeRedis) -> None:
    _migrate(client, SimVm(memory_mib=1024, resident_mib=300))
    rec = RedisRecorder(client)
    rec.outcome(_failed(None))
    assert client.hget(KEYS.vm_resident("b"), "vm1") == b"300.0"
    assert client.hget(KEYS.vm_resident("a"), "vm1") is None
    assert [o.result for o in rec.outcomes()] == ["completed", "failed"]


def test_a_failed_move_that_measured_updates_the_source(client: fakeredis.FakeRedis) -> None:
    _migrate(client, SimVm(memory_mib=1024, resident_mib=300))
    RedisRecorder(client).outcome(_failed(400 * MIB))
    assert client.hget(KEYS.vm_resident("b"), "vm1") == b"400.0"  # where the VM still is
    assert client.hget(KEYS.vm_resident("a"), "vm1") is None


def test_an_offline_move_measures_nothing_and_forgets(client: fakeredis.FakeRedis) -> None:
    client.hset(KEYS.vm_resident("a"), "vm1", "300.0")  # an earlier live move measured it
    client.hset(KEYS.vm_resident("b"), "vm1", "100.0")  # and an even earlier stay on b
    out = _migrate(client, SimVm(memory_mib=1024, state="shutoff"), mode="offline")
    assert out.result == "completed"
    assert out.actual is not None
    assert out.actual.nonzero_bytes is None
    assert client.hget(KEYS.vm_resident("a"), "vm1") is None
    assert client.hget(KEYS.vm_resident("b"), "vm1") is None  # unknown: all memory counts
    assert client.zscore(KEYS.vm_migrated, "vm1") == out.finished_at
