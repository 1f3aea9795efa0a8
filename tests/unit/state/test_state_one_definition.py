"""Every limit and lifetime has one definition: the executor's orders carry the policy's
own slot limits (one ``Slots``, one default), the leases and slots expire after the key
schema's ``LEASE_TTL_S``, and the ACL patterns are the key schema's names."""

from __future__ import annotations

import fakeredis
import msgspec

from balancer.acl.users import agent, roles
from balancer.core.models import Policy, Slots
from balancer.state.keys import LEASE_TTL_S, Keys
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.order import MigrationOrder


def test_an_order_carries_the_policys_slot_limits_and_defaults() -> None:
    field = {f.name: f for f in msgspec.structs.fields(MigrationOrder)}["slots"]
    assert field.type is Slots
    assert field.default == Policy().slots == Slots()


def test_leases_and_slots_share_the_schemas_lifetime() -> None:
    client = fakeredis.FakeRedis()
    assert Coordinator(client).ttl_s == Fence(client).ttl_s == LEASE_TTL_S


def test_acl_patterns_are_the_key_schemas_names() -> None:
    k = Keys("p")
    text = " ".join(g.text() for g in agent("h1", "p").grants)
    for key in (k.schema, k.hosts, k.report("h1"), k.alive("h1"), k.history("h1"),
                k.generation, k.vm_resident("h1")):  # fmt: skip
        assert key in text
    worker = next(u for u in roles("p") if u.role == "worker")
    text = " ".join(g.text() for g in worker.grants)
    for pattern in (k.every(), k.every("exec"), k.epoch, k.vm_migrated, k.vm_resident("*"),
                    k.plan_waves("*"), k.links, k.power):  # fmt: skip
        assert pattern in text
