"""The guest's non-zero memory, end to end on a real redis-server: ``balancer migrate
--inline`` runs a move with the executor (simulated hypervisor, ``RedisRecorder``), whose
outcome records what the migration measured in the destination's ``vm-resident-mib``; the
agents' next reports (the VM now on the destination) carry it, ``Snapshot.from_redis``
then has it as the VM's ``resident_mib`` (over RESP2 and RESP3 alike), and the next
move the planner makes of that VM is priced with it."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import msgspec
import pytest
import redis

from balancer.core.migration_model import MIB, estimate
from balancer.core.models import Policy
from balancer.core.planner import plan
from balancer.snapshot_file import load_snapshot
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.raw_store import read_raw
from balancer.state.snapshot_read import cooldown_start, snapshot_from_redis
from tests.integration.store_seed import seed_store
from tests.integration.test_migrate_cli import EXAMPLE, balancer
from workers.executor.records import MigrationRecord

pytestmark = pytest.mark.redis
#: The simulated ci-runner: 16 GiB of which 2 GiB were ever written.
SIM = {"kvm-02": {"ci-runner": {"memory_mib": 16384, "resident_mib": 2048}}}


def _predicted_bytes(store: str, dest: str) -> int:
    """What the planner predicts for moving ci-runner to ``dest`` (``--dry-run``)."""
    r = balancer("migrate", "ci-runner", "--to", dest, "--dry-run", "--redis", store)
    assert r.returncode == 0, r.stderr
    return int(json.loads(r.stdout)["predicted"]["bytes"])


def test_a_recorded_outcome_prices_the_next_plan(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    seed_store(redis_client, load_snapshot(EXAMPLE))
    before = {v.name: v for v in snapshot_from_redis(redis_client).vms}
    assert before["ci-runner"].resident_mib is None
    all_memory = _predicted_bytes(redis_url, "kvm-03")

    sim = tmp_path / "sim.json"
    sim.write_text(json.dumps({"bandwidth_mib_s": 1000, "hosts": {**SIM, "kvm-03": {}}}))
    env = {**os.environ, "BALANCER_HYPERVISOR": "sim", "BALANCER_SIM_FILE": str(sim)}
    r = balancer(
        "migrate", "ci-runner", "--to", "kvm-03", "--inline", "--redis", redis_url, env=env
    )
    assert r.returncode == 0, (r.stdout, r.stderr)
    raw_outcome = redis_client.get("kvmb:exec:outcome:ci-runner")
    assert raw_outcome is not None
    outcome = msgspec.json.decode(raw_outcome, type=MigrationRecord)
    assert outcome.actual is not None
    assert outcome.actual.nonzero_bytes == 2048 * MIB
    assert redis_client.hget(KEYS.vm_resident("kvm-03"), "ci-runner") == b"2048.0"
    assert redis_client.zscore(KEYS.vm_migrated, "ci-runner") == outcome.finished_at

    # The agents' next reports: ci-runner on kvm-03, with the measure its agent read.
    seeded = load_snapshot(EXAMPLE)
    moved = tuple(
        msgspec.structs.replace(v, host="kvm-03") if v.name == "ci-runner" else v
        for v in seeded.vms
    )
    seed_store(redis_client, msgspec.structs.replace(seeded, vms=moved, policy=Policy()))

    # The read: the same over RESP3 and RESP2 (maps or flat lists, scores as numbers or text).
    window = cooldown_start(time.time())
    resp3 = read_raw(redis.Redis.from_url(redis_url, protocol=3), KEYS, window)
    resp2 = read_raw(redis.Redis.from_url(redis_url, protocol=2), KEYS, window)
    assert replace(resp3, migrated={}) == replace(resp2, migrated={})
    assert {k: float(v) for k, v in resp2.migrated.items()} == {
        k: float(v) for k, v in resp3.migrated.items()
    }  # RESP2 sends Redis's text of the score, RESP3 a double
    assert set(resp3.migrated) == {b"ci-runner"}
    assert len(resp3.reports) == 6  # the reports still at their place in the reply

    snap = snapshot_from_redis(redis_client)
    vms = {v.name: v for v in snap.vms}
    assert (vms["ci-runner"].host, vms["ci-runner"].resident_mib) == ("kvm-03", 2048.0)
    assert vms["ci-runner"].last_migrated_at == outcome.finished_at  # in its cool-down
    assert all(v.resident_mib is None for n, v in vms.items() if n != "ci-runner")

    # The planner's estimate of ci-runner's next move (an evacuation: cool-down does not
    # hold it) uses the measure; the CLI's order carries that estimate.
    policy = Policy(objective="evacuate", evacuate_hosts=("kvm-03",), allow_postcopy=True)
    move = next(m for m in plan(snap, policy).moves if m.vm == "ci-runner")
    hosts = {h.name: h for h in snap.hosts}
    guest, source, dest = vms["ci-runner"], hosts["kvm-03"], hosts[move.to]
    expected = estimate(guest, source, dest, policy, resident_mib=2048.0)
    assert move.estimate.bytes == expected.bytes
    now = _predicted_bytes(redis_url, "kvm-02")
    assert now < all_memory / 4  # 16 GiB + re-dirtied pages before; 2 GiB + those now
    assert now >= 2048 * MIB
