"""When VMs last migrated (``kvmb:vm-migrated``, a sorted set the executor writes) reaches
the snapshot for the migrations within the policy's cool-down only: an older one does not
hold a VM back, the same as none, and a snapshot reads a window bounded by how many
migrations fit in a cool-down, not by the VMs ever migrated."""

from __future__ import annotations

from typing import Any

import fakeredis

from balancer.core.models import Policy
from balancer.state.keys import Keys
from balancer.state.operator import record_migration, set_policy
from balancer.state.publish import publish_report
from balancer.state.raw_store import _REPORTS, _commands
from balancer.state.snapshot_read import read_raw, snapshot_from_redis
from tests.unit.state.factories import report

KEYS = Keys("t")
NOW = 100_000.0


def _migrated(client: fakeredis.FakeRedis, policy: Policy | None = None) -> dict[str, Any]:
    set_policy(client, policy, keys=KEYS)
    snap = snapshot_from_redis(client, keys=KEYS, now=NOW)
    return {v.name: v.last_migrated_at for v in snap.vms}


def test_only_migrations_within_the_cooldown_reach_the_snapshot(
    client: fakeredis.FakeRedis,
) -> None:
    publish_report(client, KEYS, report("a", ("v1", "v2", "v3")))
    record_migration(client, "v1", NOW - 60, keys=KEYS)
    record_migration(client, "v2", NOW - 3599, keys=KEYS)
    record_migration(client, "v3", NOW - 7200, keys=KEYS)
    assert Policy().cooldown_s == 3600
    assert _migrated(client) == {"v1": NOW - 60, "v2": NOW - 3599, "v3": None}
    # The stored policy's cool-down sets the window.
    assert _migrated(client, Policy(cooldown_s=7200)) == {
        "v1": NOW - 60, "v2": NOW - 3599, "v3": NOW - 7200,
    }  # fmt: skip
    assert _migrated(client, Policy(cooldown_s=0)) == dict.fromkeys(("v1", "v2", "v3"))


def test_a_later_migration_replaces_the_earlier(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    record_migration(client, "v1", NOW - 7000, keys=KEYS)
    record_migration(client, "v1", NOW - 10, keys=KEYS)
    assert client.zcard(KEYS.vm_migrated) == 1
    assert _migrated(client) == {"v1": NOW - 10}


def test_the_window_is_one_bounded_range_in_the_transaction() -> None:
    commands = _commands(KEYS, ("a",), NOW - 3600)
    zrange = [c for c in commands[:_REPORTS] if c[0] == "ZRANGE"]
    assert zrange == [
        ("ZRANGE", "t:vm-migrated", repr(NOW - 3600), "+inf", "BYSCORE", "WITHSCORES")
    ]


def test_a_raw_read_for_listings_reads_no_migrations(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ("v1",)))
    record_migration(client, "v1", NOW, keys=KEYS)
    assert read_raw(client, KEYS).migrated == {}
    migrated = read_raw(client, KEYS, lambda policy: NOW - 1).migrated
    assert {k: float(v) for k, v in migrated.items()} == {b"v1": NOW}


def test_a_policy_changed_mid_read_retries_with_the_new_window(
    server: fakeredis.FakeServer, client: fakeredis.FakeRedis
) -> None:
    """The window comes from the policy read under WATCH: an operator changing the policy
    before the transaction runs aborts it, and the retry reads the new cool-down."""
    publish_report(client, KEYS, report("a", ("v1",)))
    record_migration(client, "v1", NOW - 5000, keys=KEYS)
    operator = fakeredis.FakeRedis(server=server)
    seen: list[bytes | None] = []

    def since(policy: bytes | None) -> float:
        seen.append(policy)
        if len(seen) == 1:
            set_policy(operator, Policy(cooldown_s=7200), keys=KEYS)
        return NOW - (3600 if policy is None else 7200)

    raw = read_raw(client, KEYS, since)
    operator.close()
    assert len(seen) == 2
    assert seen[0] is None
    assert seen[1] is not None
    assert set(raw.migrated) == {b"v1"}
    assert raw.policy == seen[1]
