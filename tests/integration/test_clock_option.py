"""``--clock fleet`` on the commands that tell ages (hosts, vms, status; daemon and
exporter had it): against ``balancer fleet sim`` or ``balancer demo`` a report's time is
the fleet's, and Unix time makes its age meaningless."""

from __future__ import annotations

import json
import time

import pytest
import redis

from balancer.fleet.clock import anchor_clock
from balancer.state.keys import DEFAULT_KEYS as KEYS
from balancer.state.publish import ensure_schema, publish_report
from tests.integration.agent_processes import balancer
from tests.unit.state.factories import report

pytestmark = pytest.mark.redis


def test_ages_by_the_fleets_clock_or_by_unix_time(
    redis_url: str, redis_client: redis.Redis
) -> None:
    ensure_schema(redis_client, KEYS)
    anchor_clock(redis_client, KEYS, start=10_000.0, speed=1.0)  # fleet time 10,000 now
    publish_report(redis_client, KEYS, report("h1", ("v1",), at=9_990.0, ttl_s=600))
    for command in ("hosts", "vms"):
        fleet = balancer(command, "--json", "--clock", "fleet", "--redis", redis_url)
        assert fleet.returncode == 0, fleet.stderr
        [row] = json.loads(fleet.stdout)
        assert 10 <= row["age_s"] < 60, row  # fleet time 10,000 and a little, less 9,990
        unix = balancer(command, "--json", "--redis", redis_url)
        assert unix.returncode == 0, unix.stderr
        assert json.loads(unix.stdout)[0]["age_s"] > time.time() - 10_000  # the default
    status = balancer("status", "--clock", "fleet", "--redis", redis_url)
    assert status.returncode == 0, status.stderr
    assert "hosts       1 active" in status.stdout


def test_the_fleets_clock_without_a_fleet_is_one_line(redis_url: str) -> None:
    for command in ("hosts", "vms", "status"):
        r = balancer(command, "--clock", "fleet", "--redis", redis_url)
        assert r.returncode == 1, (command, r.stderr)
        assert r.stderr.count("\n") == 1, r.stderr
        assert "no simulated fleet in the store yet" in r.stderr
