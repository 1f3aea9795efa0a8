"""Soft rules (affinity, anti-affinity, pin with ``"hard": false``) go through the store
like hard ones: ``put_rules`` (what ``balancer rules put`` calls) stores them, the reader
gives them back unchanged, and a soft pin never counts as a hard one in the checks."""

from __future__ import annotations

import fakeredis
import msgspec

from balancer.core.models import AffinityRule, AntiAffinityRule, PinRule, Rule
from balancer.state.keys import Keys
from balancer.state.operator import put_rules
from balancer.state.publish import publish_report
from balancer.state.snapshot_read import snapshot_from_redis
from tests.unit.state.factories import report

KEYS = Keys("t")


def test_soft_rules_are_stored_and_read_back(client: fakeredis.FakeRedis) -> None:
    publish_report(client, KEYS, report("a", ("v1", "v2")))
    publish_report(client, KEYS, report("b", ("v3",)))
    rules: dict[str, Rule] = {
        "near": AffinityRule(vms=("v1", "v3"), hard=False),
        "apart": AntiAffinityRule(vms=("v1", "v2"), hard=False),
        "prefer-b": PinRule(vm="v1", hosts=("b",), hard=False),
        # A hard pin elsewhere: a soft pin does not narrow it, so they do not contradict.
        "only-a": PinRule(vm="v3", hosts=("a",)),
    }
    put_rules(client, rules, keys=KEYS)
    snap = snapshot_from_redis(client, keys=KEYS, now=100.0)
    assert set(snap.rules) == set(rules.values())
    raw = client.hget(KEYS.rules, "prefer-b")
    assert isinstance(raw, bytes)
    stored = msgspec.json.decode(raw)
    assert stored == {"type": "pin", "vm": "v1", "hosts": ["b"], "hard": False}
