"""A small store for the exporter's tests: hosts in each state, migrations ended and
running, power actions, the executor's counters, an evacuation and a pause."""

from __future__ import annotations

import json

import fakeredis
import msgspec

from balancer.control.intents import Evacuation, Pause
from balancer.state.exec_stats import record_count, record_slot_wait
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.migrations import Actual, MigrationRecord, Predicted
from balancer.state.operator import set_host_state
from balancer.state.power_records import PowerRecord
from balancer.state.publish import publish_report
from tests.unit.state.factories import report

NOW = 10_000.0


class FixedClock:
    def __init__(self, now: float = NOW) -> None:
        self.t = now

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def real_seconds(self, seconds: float) -> float:
        return seconds


def ended(i: int, **kw: object) -> MigrationRecord:
    fields: dict[str, object] = {
        "id": f"m-{i}", "vm": f"v{i}", "source": "h1", "dest": "h2", "mode": "live",
        "reason": "balance", "epoch": 3, "started_at": NOW - 600 + i,
        "finished_at": NOW - 590 + i, "result": "completed",
        "predicted": Predicted(duration_s=10.0, downtime_ms=100, bytes=2**30),
        "actual": Actual(duration_s=12.0, downtime_ms=150.0, bytes=2**30),
    }  # fmt: skip
    fields.update(kw)
    return msgspec.convert(fields, MigrationRecord, from_attributes=True)


def add_outcome(client: fakeredis.FakeRedis, record: MigrationRecord) -> None:
    client.xadd(KEYS.outcomes, {"outcome": msgspec.json.encode(record)})


def add_power(client: fakeredis.FakeRedis, action: str, result: str) -> None:
    doc = {"id": "p", "plan_id": "", "host": "h4", "action": action, "reason": "idle",
           "epoch": 3, "at": NOW - 100, "result": result}  # fmt: skip
    client.xadd(KEYS.power_log, {"record": json.dumps(doc)})


def seed(client: fakeredis.FakeRedis) -> None:
    """h1 active (2 VMs, one running migration out), h2 in maintenance, h3 stale
    (heartbeat gone), h4 powered off by the balancer, h5 booting."""
    for name, vms in (("h1", ("a", "b")), ("h2", ("c",)), ("h3", ()), ("h4", ()), ("h5", ())):
        publish_report(client, KEYS, report(name, vms, at=NOW - 5, cpu_used=1.5))
    client.delete(KEYS.alive("h3"), KEYS.alive("h4"))
    set_host_state(client, "h2", "maintenance", reason="DIMM")
    client.hset(KEYS.power, "h4", msgspec.json.encode(PowerRecord(state="off", at=NOW - 50)))
    client.hset(KEYS.power, "h5", msgspec.json.encode(PowerRecord(state="booting", at=NOW - 1)))
    for i in range(3):
        add_outcome(client, ended(i))
    add_outcome(client, ended(3, result="failed", actual=None, reason="evacuation"))
    add_outcome(client, ended(4, result="fenced", actual=None))
    add_outcome(client, ended(5, finished_by="suspend", mode="non-live"))
    running = ended(9, result="running", finished_at=None, actual=None, started_at=NOW - 300)
    client.hset(KEYS.running, running.id, msgspec.json.encode(running))
    add_power(client, "off", "completed")
    add_power(client, "on", "failed")
    record_slot_wait(client, KEYS, 0.2, got=True)
    record_slot_wait(client, KEYS, 3.0, got=True)
    record_slot_wait(client, KEYS, 30.0, got=False)
    record_count(client, KEYS, "lease_busy")
    record_count(client, KEYS, "retry:migrate:busy")
    evacuation = Evacuation(id="ev-h2-1", host="h2", created_at=NOW - 60,
                            updated_at=NOW - 10, vms_total=1, vms_left=1)  # fmt: skip
    client.hset(KEYS.evacuations, evacuation.id, msgspec.json.encode(evacuation))
    client.set(KEYS.paused, msgspec.json.encode(Pause(at=NOW - 5, by="op", reason="network")))
