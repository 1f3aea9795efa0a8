"""The executor's measured per-pair bandwidth reaches the snapshot (``Snapshot.links``)."""

from __future__ import annotations

import logging

import fakeredis
import msgspec
import pytest

from balancer.core.models import Link
from balancer.state.keys import Keys
from balancer.state.publish import publish_report
from balancer.state.snapshot_read import snapshot_from_redis
from tests.unit.state.factories import report

KEYS = Keys("t")


def test_the_snapshot_carries_the_measured_links_of_known_hosts(
    client: fakeredis.FakeRedis,
) -> None:
    for name in ("a", "b"):
        publish_report(client, KEYS, report(name, (f"{name}1",)))
    ab = Link(source="a", dest="b", bandwidth_mib_s=97.5, samples=3, measured_at=5.0)
    gone = Link(source="a", dest="zz", bandwidth_mib_s=10.0)
    client.hset(KEYS.links, mapping={"a b": msgspec.json.encode(ab),
                                     "a zz": msgspec.json.encode(gone)})  # fmt: skip
    assert snapshot_from_redis(client, keys=KEYS).links == (ab,)


def test_an_undecodable_link_is_left_out_and_logged(
    client: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    publish_report(client, KEYS, report("a", ("a1",)))
    client.hset(KEYS.links, "a a", b"{not json")
    with caplog.at_level(logging.WARNING):
        assert snapshot_from_redis(client, keys=KEYS).links == ()
    assert "links[a a]" in caplog.text
