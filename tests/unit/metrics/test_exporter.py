"""``StoreExporter.scrape`` on a small store: every family the store can feed, with the
values the store holds; counters grow by what the streams gain, once per migration."""

from __future__ import annotations

import fakeredis
import pytest
import redis

from balancer.metrics.exporter import StoreExporter
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.publish import publish_report
from tests.unit.metrics.scrape_parse import value
from tests.unit.metrics.store_fixtures import NOW, FixedClock, add_outcome, ended, seed
from tests.unit.state.factories import report

MIB = 2**20


@pytest.fixture
def exporter(client: fakeredis.FakeRedis) -> StoreExporter:
    seed(client)
    return StoreExporter(client, KEYS, FixedClock())


def test_hosts(exporter: StoreExporter) -> None:
    body = exporter.scrape()
    assert value(body, "kvmb_store_up") == 1
    assert value(body, "kvmb_host_cpu_used_cores", host="h1") == 0.0  # factories' default
    assert value(body, "kvmb_host_cpu_capacity_cores", host="h1") == 16
    assert value(body, "kvmb_host_memory_capacity_bytes", host="h1") == 65536 * MIB
    assert value(body, "kvmb_host_vms", host="h1") == 2
    assert value(body, "kvmb_host_report_age_seconds", host="h1") == 5
    assert value(body, "kvmb_host_state", host="h2", state="maintenance") == 1
    assert value(body, "kvmb_host_state", host="h2", state="active") == 0
    assert value(body, "kvmb_host_heartbeat_lost", host="h3") == 1
    assert value(body, "kvmb_host_heartbeat_lost", host="h4") == 0  # off on purpose
    assert value(body, "kvmb_host_power_state", host="h4", state="off") == 1
    assert value(body, "kvmb_host_power_state", host="h5", state="booting") == 1
    assert value(body, "kvmb_hosts", state="off") == 2
    assert value(body, "kvmb_hosts", state="failed") == 1
    assert value(body, "kvmb_hosts_power", state="on") == 3
    assert value(body, "kvmb_vms") == 3


def test_migrations_power_and_executor(exporter: StoreExporter) -> None:
    body = exporter.scrape()
    completed = {"result": "completed", "mode": "live", "reason": "balance"}
    assert value(body, "kvmb_migrations_total", finished_by="none", **completed) == 3
    assert value(body, "kvmb_migrations_total", result="failed", reason="evacuation") == 1
    assert value(body, "kvmb_migrations_total", result="fenced") == 1
    assert value(body, "kvmb_migrations_total", finished_by="suspend", mode="non-live") == 1
    assert value(body, "kvmb_migration_duration_seconds_count", mode="live") == 3
    assert value(body, "kvmb_migration_duration_seconds_sum", mode="live") == 36
    assert value(body, "kvmb_migration_duration_seconds_bucket", mode="live", le="10.0") == 0
    assert value(body, "kvmb_migration_duration_seconds_bucket", mode="live", le="30.0") == 3
    assert value(body, "kvmb_migration_downtime_seconds_sum", mode="live") == pytest.approx(0.45)
    assert value(body, "kvmb_migration_prediction_ratio_sum", mode="live") == pytest.approx(3.6)
    assert value(body, "kvmb_migrations_in_flight", mode="live") == 1
    assert value(body, "kvmb_migrations_stalled") == 1  # 300 s old, no progress published
    assert value(body, "kvmb_migration_oldest_running_seconds") == 300
    assert value(body, "kvmb_migration_slots_limit", scope="cluster") == 5
    assert value(body, "kvmb_migration_slots_used", scope="outbound_per_host") == 1
    assert value(body, "kvmb_vm_migrations_max_24h") == 1
    assert value(body, "kvmb_power_actions_total", action="on", result="failed") == 1
    assert value(body, "kvmb_migration_slot_wait_seconds_count") == 2
    assert value(body, "kvmb_migration_slot_wait_seconds_bucket", le="0.5") == 1
    assert value(body, "kvmb_migration_slot_wait_seconds_bucket", le="5.0") == 2
    assert value(body, "kvmb_migration_slot_wait_seconds_sum") == pytest.approx(33.2)
    assert value(body, "kvmb_migration_slot_timeouts_total") == 1
    assert value(body, "kvmb_migration_lease_busy_total") == 1
    assert value(body, "kvmb_task_retries_total", task="migrate", kind="busy") == 1
    assert value(body, "kvmb_evacuations", state="running") == 1
    assert value(body, "kvmb_evacuation_vms_left", host="h2") == 1
    assert value(body, "kvmb_paused") == 1


def test_counters_grow_by_new_entries_once(
    exporter: StoreExporter, client: fakeredis.FakeRedis
) -> None:
    labels = {"result": "completed", "mode": "live", "reason": "balance", "finished_by": "none"}
    assert value(exporter.scrape(), "kvmb_migrations_total", **labels) == 3
    add_outcome(client, ended(7))
    add_outcome(client, ended(7))  # a redelivered task recorded it twice
    add_outcome(client, ended(8, vm="v7", finished_at=NOW - 10))
    add_outcome(client, ended(10, mode="warp", reason="whim"))  # unknown values: "other"
    body = exporter.scrape()
    assert value(body, "kvmb_migrations_total", **labels) == 5
    assert value(body, "kvmb_migrations_total", mode="other", reason="other") == 1
    assert value(body, "kvmb_vm_migrations_max_24h") == 2  # v7 moved twice today


def test_a_store_that_does_not_answer_says_so(exporter: StoreExporter) -> None:
    exporter.client = redis.Redis(port=1, socket_connect_timeout=0.2)
    body = exporter.scrape()
    assert value(body, "kvmb_store_up") == 0
    assert value(body, "kvmb_exporter_read_errors_total") == 1
    assert b"kvmb_host_vms" not in body


def test_per_vm_series(client: fakeredis.FakeRedis) -> None:
    seed(client)
    body = StoreExporter(client, KEYS, FixedClock(), per_vm=True).scrape()
    assert value(body, "kvmb_vm_memory_bytes", vm="a", host="h1") == 2048 * MIB
    assert value(body, "kvmb_vm_cpu_used_cores", vm="c", host="h2") == 1.5
    plain = StoreExporter(client, KEYS, FixedClock()).scrape()
    assert b"kvmb_vm_memory_bytes" not in plain


def test_hosts_read_between_scrapes(client: fakeredis.FakeRedis) -> None:
    seed(client)
    exporter = StoreExporter(client, KEYS, FixedClock(), refresh_s=60.0)  # no thread started
    assert value(exporter.scrape(), "kvmb_hosts", state="active") == 1
    publish_report(client, KEYS, report("h6", ("z",), at=NOW - 1))
    body = exporter.scrape()  # the hosts as read before; the rest read afresh
    assert value(body, "kvmb_hosts", state="active") == 1
    assert b'host="h6"' not in body
    assert value(body, "kvmb_store_read_age_seconds") >= 0
    exporter.hosts.refresh()
    body = exporter.scrape()
    assert value(body, "kvmb_hosts", state="active") == 2
    assert value(body, "kvmb_host_vms", host="h6") == 1
