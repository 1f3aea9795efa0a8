"""A real redis-server (the snapshot read's transaction): a key of the wrong type or a value
that does not decode is skipped and logged; the rest of the snapshot is read."""

from __future__ import annotations

import pytest
import redis

from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from balancer.state.publish import publish_report
from balancer.state.snapshot_read import snapshot_from_redis
from tests.unit.state.factories import report

pytestmark = pytest.mark.redis
K = Keys()


def test_wrong_types_and_bad_values_are_skipped_on_a_real_server(
    redis_url: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_from_url(redis_url)
    publish_report(client, K, report("a", ("v1", "v2")))
    publish_report(client, K, report("b", ("v3",)))
    redis_client.set(K.rules, "x")  # a string on a hash key
    redis_client.set(K.vm_migrated, "x")  # and on the sorted set
    redis_client.hset(K.policy, "x", "y")  # a hash on a string key
    redis_client.hset(K.vm_labels, "v1", "not json")
    redis_client.hset(K.host_state, "b", '{"state": "maintenance", "reason": "disk"}')
    snap = snapshot_from_redis(client, keys=K)
    assert sorted(v.name for v in snap.vms) == ["v1", "v2", "v3"]
    assert {h.name: h.state for h in snap.hosts} == {"a": "active", "b": "maintenance"}
    for key in (K.rules, K.vm_migrated, K.policy):
        assert f"{key} holds a " in caplog.text
    assert "redis:op:vm-labels[v1]" in caplog.text
    redis_client.delete(K.rules)  # fixed by an admin: read again as usual
    assert snapshot_from_redis(client, keys=K).rules == ()
    client.close()
