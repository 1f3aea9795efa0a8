"""On a real redis-server: a migration the executor records after both hosts' last
reports moves the VM in the next snapshot, before either agent reports again (the
daemon must not send the same move twice)."""

from __future__ import annotations

import time

import pytest
import redis

from balancer.core.models import Snapshot
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.migrations import MigrationRecord
from balancer.state.publish import ensure_schema, publish_report, publish_reports
from balancer.state.snapshot_read import snapshot_from_redis
from tests.unit.state.factories import report
from workers.executor.records import RedisRecorder

pytestmark = pytest.mark.redis


def placement(snapshot: Snapshot) -> dict[str, str]:
    assert {h.state for h in snapshot.hosts} == {"active"}
    return {v.name: v.host for v in snapshot.vms}


def test_a_migration_recorded_after_the_last_reports_moves_the_vm(
    redis_client: redis.Redis,
) -> None:
    ensure_schema(redis_client, KEYS)
    t0 = time.time() - 60
    publish_reports(redis_client, KEYS, [report("src", ("v", "w"), at=t0, ttl_s=600),
                                         report("dst", ("x",), at=t0, ttl_s=600)])  # fmt: skip
    assert placement(snapshot_from_redis(redis_client)) == {"v": "src", "w": "src", "x": "dst"}

    moved = MigrationRecord(id="m1", vm="v", source="src", dest="dst", mode="live",
                            reason="evacuation", epoch=7, started_at=t0 + 10,
                            finished_at=t0 + 20, result="completed")  # fmt: skip
    RedisRecorder(redis_client, KEYS).outcome(moved)  # as the executor records it
    after = snapshot_from_redis(redis_client)
    assert placement(after) == {"v": "dst", "w": "src", "x": "dst"}
    assert next(v for v in after.vms if v.name == "v").last_migrated_at == t0 + 20

    # The destination's agent reports it: the same placement, no conflict.
    publish_report(redis_client, KEYS, report("dst", ("x", "v"), at=t0 + 30, ttl_s=600))
    assert placement(snapshot_from_redis(redis_client)) == {"v": "dst", "w": "src", "x": "dst"}
