"""Fill a real Redis store with a snapshot's cluster, as agents and an operator would:
one host report per host (heartbeat alive for an hour; with the executor's measures of its
VMs, as an agent's first report), the rules and the policy."""

from __future__ import annotations

import time

import redis

from balancer.core.models import Snapshot
from balancer.state.keys import DEFAULT_KEYS
from balancer.state.operator import put_rule, set_policy
from balancer.state.publish import ensure_schema, publish_report, read_resident
from balancer.state.report import HostReport, with_resident


def seed_store(client: redis.Redis, snapshot: Snapshot) -> None:
    ensure_schema(client, DEFAULT_KEYS)
    now = time.time()
    for host in snapshot.hosts:
        vms = tuple(vm for vm in snapshot.vms if vm.host == host.name)
        report = HostReport(host=host, vms=vms, collected_at=now, interval_s=30.0, ttl_s=3600.0)
        measures = read_resident(client, DEFAULT_KEYS, host.name)
        publish_report(client, DEFAULT_KEYS, with_resident(report, measures))
    for i, rule in enumerate(snapshot.rules):
        put_rule(client, f"rule-{i}", rule)
    set_policy(client, snapshot.policy)
