"""``publish_report``'s one-write transaction: what it stores, and a failing command."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
import redis

from balancer.state.keys import Keys
from balancer.state.publish import publish_report
from balancer.state.report import decode_report, decode_samples
from tests.unit.state.factories import report

KEYS = Keys("t")


def test_one_report_stores_everything(client: fakeredis.FakeRedis) -> None:
    r = report("kvm-1", ("a", "b"), at=1000.5, ttl_s=30)
    assert publish_report(client, KEYS, r, history_len=2).generation == 1
    assert publish_report(client, KEYS, r, history_len=2).generation == 2
    assert client.smembers(KEYS.hosts) == {b"kvm-1"}
    assert decode_report(client.get(KEYS.report("kvm-1"))) == r  # type: ignore[arg-type]
    assert client.get(KEYS.alive("kvm-1")) == b"1000.5"
    assert 29_000 < client.pttl(KEYS.alive("kvm-1")) <= 30_000
    entries: list[Any] = client.xrange(KEYS.history("kvm-1"))  # type: ignore[assignment]
    assert len(entries) == 2
    assert [s.name for s in decode_samples(entries[0][1][b"vms"])] == ["a", "b"]


def test_a_failing_command_raises_and_the_client_goes_on(client: fakeredis.FakeRedis) -> None:
    client.set(KEYS.history("kvm-1"), "not a stream")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        publish_report(client, KEYS, report("kvm-1", ("a",)))
    assert client.get(KEYS.history("kvm-1")) == b"not a stream"
    assert publish_report(client, KEYS, report("kvm-1", ("a",)), history_len=0).generation == 2
