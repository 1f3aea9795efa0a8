"""``run_cycle`` through the in-memory ports: fencing, following a plan in flight, the
preemption by an evacuation, evacuation bookkeeping, pause, and the record."""

from __future__ import annotations

import msgspec

from balancer.control.intents import Evacuation, Pause
from balancer.control.loop import Ports, plan_id, run_cycle
from balancer.control.memory_ports import (
    FixedSnapshots,
    ManualClock,
    MemoryCoordination,
    MemoryHistory,
    MemorySink,
    MemoryStore,
)
from balancer.control.records import InFlight
from balancer.core.models import Snapshot
from balancer.core.plan import MoveReason
from tests.unit.control.factories import settings
from tests.unit.sim.factories import snapshot

SETTINGS = settings(sample_every_s=60.0)
T0 = 100_000.0


def _ports(snap: Snapshot) -> tuple[Ports, MemoryStore, MemorySink, MemoryCoordination]:
    lease = MemoryCoordination(current=7)
    store = MemoryStore(fence=lease)
    sink = MemorySink()
    ports = Ports(
        clock=ManualClock(T0),
        snapshots=FixedSnapshots(snap),
        history=MemoryHistory(60.0),
        store=store,
        sink=sink,
        coordination=lease,
    )
    return ports, store, sink, lease


class _Unreadable:
    def snapshot(self, now: float) -> Snapshot:
        raise AssertionError("a cycle that does not lead reads nothing")


def test_a_cycle_that_does_not_lead_is_fenced_and_reads_nothing() -> None:
    ports, store, sink, lease = _ports(snapshot({1: [6.0]}))
    lease.leading = False
    ports = Ports(ports.clock, _Unreadable(), ports.history, store, sink, lease)
    record = run_cycle(ports, SETTINGS)
    assert record.outcome == "fenced"
    assert sink.sent == []
    assert store.records == []


def test_a_relief_is_planned_sent_and_recorded() -> None:
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]})
    ports, store, sink, _ = _ports(snap)
    ticks = iter([1.0, 1.5, 2.0, 2.5, 3.25, 3.5])
    record = run_cycle(ports, SETTINGS, leader="d1", timer=ticks.__next__)
    assert record.outcome == "planned"
    assert record.epoch == 7
    assert record.leader == "d1"
    assert record.intents == ("relief",)
    assert record.moves_planned == record.moves_sent > 0
    assert record.reasons == {"relief": record.moves_planned}
    assert record.plan_id == plan_id(7, T0) == "7-100000000"
    assert record.phases == {"snapshot": 0.5, "history": 0.5, "decide": 0.75, "send": 0.25}
    assert record.seconds == 2.0
    assert (record.hosts, record.vms, record.active_hosts) == (4, 5, 2)
    ((pid, epoch, plan),) = sink.sent
    assert (pid, epoch) == (record.plan_id, 7)
    assert all(m.reason == MoveReason.RELIEF for m in plan.moves)
    assert store.records == [record]


def test_a_plan_in_flight_is_followed_not_planned_over() -> None:
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]})
    ports, store, sink, _ = _ports(snap)
    sink.flight = InFlight(plan_id="7-1", intent="relief", vms=frozenset({"vm-1-0"}))
    record = run_cycle(ports, SETTINGS)
    assert record.outcome == "following"
    assert record.plan_id == "7-1"
    assert sink.sent == []
    assert sink.cancelled == []
    assert store.records == [record]


def test_a_vm_whose_migration_failed_lately_is_held_back() -> None:
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]})
    ports, _, sink, _ = _ports(snap)
    first = run_cycle(ports, SETTINGS)
    moved = {m.vm for m in sink.sent[0][2].moves}
    assert first.outcome == "planned"
    assert moved
    # Those moves failed just now (the executor refused them): not retried at once...
    failed = dict.fromkeys(moved, T0 - 10.0)
    sink.sent.clear()
    sink.flight = InFlight(failed_at=failed)
    run_cycle(ports, SETTINGS)
    assert not any(m.vm in moved for _, _, plan in sink.sent for m in plan.moves)
    # ...but once the back-off has passed.
    sink.flight = InFlight(failed_at=dict.fromkeys(moved, T0 - SETTINGS.retry_failed_after_s))
    run_cycle(ports, SETTINGS)
    assert any(m.vm in moved for _, _, plan in sink.sent for m in plan.moves)


def test_an_evacuation_preempts_a_flight_of_lower_priority() -> None:
    snap = snapshot({1: [1.0, 1.0], 3: [1.0], 5: [0.5]}, hosts=6)
    hosts = tuple(
        msgspec.structs.replace(h, state="maintenance") if h.name == "host-1" else h
        for h in snap.hosts
    )
    snap = msgspec.structs.replace(snap, hosts=hosts)
    ports, store, sink, _ = _ports(snap)
    sink.flight = InFlight(plan_id="7-1", intent="consolidation", vms=frozenset({"vm-5-0"}))
    record = run_cycle(ports, SETTINGS)
    assert sink.cancelled == [(frozenset({"vm-5-0"}), frozenset())]
    assert record.outcome == "planned"
    assert record.intents[0] == "evacuation"
    ((_, _, plan),) = sink.sent
    assert {m.vm for m in plan.moves} >= {"vm-1-0", "vm-1-1"}
    assert "vm-5-0" not in {m.vm for m in plan.moves}  # busy: the flight's VMs stay
    (evac,) = store.evacuations.values()
    assert (evac.host, evac.by, evac.state, evac.vms_left) == ("host-1", "daemon", "running", 2)


def test_an_evacuation_flight_is_not_preempted() -> None:
    snap = snapshot({1: [1.0], 3: [1.0]}, hosts=4)
    hosts = tuple(
        msgspec.structs.replace(h, state="draining") if h.name == "host-1" else h
        for h in snap.hosts
    )
    ports, _, sink, _ = _ports(msgspec.structs.replace(snap, hosts=hosts))
    sink.flight = InFlight(plan_id="7-1", intent="evacuation", vms=frozenset({"vm-3-0"}))
    assert run_cycle(ports, SETTINGS).outcome == "following"
    assert sink.cancelled == []


def test_evacuations_end_done_or_cancelled() -> None:
    snap = snapshot({1: [1.0], 3: [1.0]}, hosts=4)
    ports, store, _, _ = _ports(snap)
    store.evacuations = {
        "e-empty": Evacuation(id="e-empty", host="host-0", created_at=0, updated_at=0),
        "e-back": Evacuation(id="e-back", host="host-1", created_at=0, updated_at=0),
    }
    run_cycle(ports, SETTINGS)
    assert store.evacuations["e-empty"].state == "done"
    assert store.evacuations["e-empty"].finished_at == T0
    assert store.evacuations["e-back"].state == "cancelled"  # host-1 is active again


def test_the_held_host_of_a_cancelled_evacuation_neither_gives_nor_takes() -> None:
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [0.5]}, hosts=4)
    hosts = tuple(
        msgspec.structs.replace(h, state="maintenance") if h.name == "host-1" else h
        for h in snap.hosts
    )
    ports, store, sink, _ = _ports(msgspec.structs.replace(snap, hosts=hosts))
    store.evacuations = {
        "e": Evacuation(id="e", host="host-1", state="cancelled", created_at=0, updated_at=0)
    }
    record = run_cycle(ports, SETTINGS)
    assert record.intents == ()
    assert sink.sent == []
    assert list(store.evacuations) == ["e"]  # no new evacuation for a held host


def test_a_paused_loop_only_evacuates() -> None:
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]})
    ports, store, sink, _ = _ports(snap)
    store.paused = Pause(at=T0 - 5, by="ops")
    record = run_cycle(ports, SETTINGS)
    assert record.outcome == "paused"
    assert record.summary == "paused"
    assert sink.sent == []


def test_a_leader_that_lost_its_lead_while_deciding_sends_nothing() -> None:
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]})
    ports, store, sink, lease = _ports(snap)

    calls: list[int] = []

    def timer() -> float:
        calls.append(1)
        if len(calls) == 5:  # right after deciding, another daemon takes over
            lease.current = 8
        return 0.0

    record = run_cycle(ports, SETTINGS, timer=timer)
    assert record.outcome == "fenced"
    assert sink.sent == []
    assert store.records == []


def test_history_follows_a_vm_across_hosts_and_pads_the_unknown_past() -> None:
    history = MemoryHistory(60.0)
    snap = snapshot({1: [1.0], 3: [2.0]})
    for k, cpu in enumerate([1.0, 1.5, 3.0]):
        vms = tuple(
            msgspec.structs.replace(v, cpu_used=cpu, host="host-3" if k else v.host)
            if v.name == "vm-1-0"
            else v
            for v in snap.vms
        )
        history.record(msgspec.structs.replace(snap, vms=vms, taken_at=60.0 * k))
    history.record(msgspec.structs.replace(snap, taken_at=150.0))  # under a step: dropped
    late = msgspec.structs.replace(snap.vms[0], name="vm-new")
    now = msgspec.structs.replace(snap, taken_at=180.0, vms=(*snap.vms, late))
    got = history.matrix(now, window_s=300.0, step_s=60.0)
    assert got.shape == (3, 5)
    assert got[0].tolist() == [1.0, 1.0, 1.5, 3.0, 1.0]  # the last column: the snapshot
    assert got[1].tolist() == [2.0] * 5
    assert got[2].tolist() == [1.0] * 5  # known only now
