"""One stolen credential must not steer the cluster (issue 16): real agents publish under
their own ``balancer acl agent`` users, then every attack the issue lists is tried with
agent h1's password (and the roles' writes outside their role) against a real
redis-server — each is refused (NOPERM) or harmless (the reader ignores it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from balancer.state.migrations import MigrationRecord
from balancer.state.snapshot_read import snapshot_from_redis
from tests.fixtures.redis_server import RedisFactory
from tests.integration.acl_users import AclUsers, acl_denials, apply_acl, denied_count
from tests.integration.agent_processes import balancer, write_node

pytestmark = pytest.mark.redis
K = Keys()


@pytest.fixture
def store(tmp_path: Path, redis_server_factory: RedisFactory) -> AclUsers:
    """Hosts h1 (VM a1) and h2 (VMs b1, b2) published by real agents, each as its own user."""
    server = redis_server_factory()
    users = apply_acl(server, "h1", "h2")
    for host, vms in (("h1", ("a1",)), ("h2", ("b1", "b2"))):
        r = balancer("agent", "--libvirt-uri", write_node(tmp_path, host, vms), "--host-name",
                     host, "--once", env={"BALANCER_REDIS_URL": users.url(f"agent-{host}"),
                                          "PATH": "/usr/bin:/bin"})  # fmt: skip
        assert r.returncode == 0, r.stderr
    assert acl_denials(users) == []  # the agents' own publishes: nothing refused
    return users


def _placement(users: AclUsers) -> dict[str, tuple[str, str]]:
    with redis_from_url(users.url("reader")) as reader:
        snap = snapshot_from_redis(reader)
    return {v.name: (v.host, v.state) for v in snap.vms}


#: (what, command) an agent's stolen password tries; each must be refused.
AGENT_ATTACKS = [
    ("overwrite h2's report", ("SET", K.report("h2"), b"x")),
    ("make h2 failed", ("SET", K.alive("h2"), "x", "PX", 1)),
    ("keep h2 alive forever", ("SET", K.alive("h2"), "1")),
    ("order h2 evacuated", ("SET", K.policy, '{"objective":"evacuate","evacuate_hosts":["h2"]}')),
    ("put h2 in maintenance", ("HSET", K.host_state, "h2", '{"state":"maintenance"}')),
    ("a string on the rules hash", ("SET", K.rules, "x")),
    ("a string on vm-migrated", ("SET", K.vm_migrated, "x")),
    ("a string on the cluster slots", ("SET", K.slots_cluster, "x")),
    ("stop every reader", ("SET", K.schema, "2")),
    ("make a VM unmovable", ("SET", K.lease("b1"), "evil", "PX", 10**9)),
    ("forge an outcome", ("SET", K.outcome("b1"), "{}")),
    ("forge an outcome record", ("XADD", K.outcomes, "*", "outcome", "{}")),
    ("forge a migration time", ("ZADD", K.vm_migrated, 1, "b1")),
    ("forge h2's measures", ("HSET", K.vm_resident("h2"), "b1", "1")),
    ("take the lead", ("SET", K.leader, "{}")),
    ("cancel every plan", ("ZADD", K.cancelled, 1, "x")),
    ("read a key with SET … GET", ("SET", K.report("h1"), b"x", "GET")),
    ("read another host's report", ("GET", K.report("h2"))),
    ("read the operator facts", ("HGETALL", K.host_state)),
    ("jump the generation", ("INCRBY", K.generation, 1000)),
    ("list the clients", ("CLIENT", "LIST")),
    ("kill clients", ("CLIENT", "KILL", "TYPE", "normal")),
    ("pause every client", ("CLIENT", "PAUSE", 3000)),
    ("queue a migration", ("LPUSH", "migrations", "{}")),
    ("run a script", ("EVAL", "return 1", 0)),
    ("flush the store", ("FLUSHALL",)),
    ("read every key name", ("KEYS", "*")),
    ("watch every command", ("MONITOR",)),
]


def _not_refused(client: redis.Redis, attacks: Sequence[tuple[str, tuple[Any, ...]]]) -> list[str]:
    out = []
    for what, command in attacks:
        try:
            client.execute_command(*command)  # type: ignore[no-untyped-call]
        except redis.exceptions.NoPermissionError:
            continue
        out.append(what)
    return out


def test_a_stolen_agent_password_is_refused(store: AclUsers) -> None:
    before = _placement(store)
    with redis_from_url(store.url("agent-h1")) as thief:
        assert _not_refused(thief, AGENT_ATTACKS) == []
        thief.ping()  # and the connection still works: nothing was half-done
    assert _placement(store) == before
    assert denied_count(store) == len(AGENT_ATTACKS)
    assert {d.split(":")[0] for d in acl_denials(store)} == {"agent-h1"}


def test_a_report_under_its_own_key_claiming_another_hosts_vm_takes_nothing(
    tmp_path: Path, store: AclUsers
) -> None:
    """The one thing an agent may write — its own report — cannot take h2's VM: two
    running claims and no executor record naming either freeze both hosts (failed, with
    the reason); the executor's record of the VM's last migration settles it."""
    forged = write_node(tmp_path, "h1", ("a1", "b1"))
    env = {"BALANCER_REDIS_URL": store.url("agent-h1"), "PATH": "/usr/bin:/bin"}
    r = balancer("agent", "--libvirt-uri", forged, "--host-name", "h1", "--once", env=env)
    assert r.returncode == 0, r.stderr
    claiming = balancer("agent", "--libvirt-uri", forged, "--host-name", "h2", "--once", env=env)
    assert claiming.returncode == 1  # h1's user cannot publish as h2
    hosts = _hosts(store)
    assert {h: s for h, (s, _why) in hosts.items()} == {"h1": "failed", "h2": "failed"}
    assert hosts["h2"][1] == "conflicting claim: VM b1 is also reported by h1"

    record = MigrationRecord(id="m1", vm="b1", source="h1", dest="h2", mode="live",
                             reason="balance", epoch=None, started_at=1.0, finished_at=2.0,
                             result="completed")  # fmt: skip
    with store.admin() as admin:  # as the executor would have written it
        admin.set(K.outcome("b1"), msgspec.json.encode(record))
    assert _placement(store)["b1"] == ("h2", "running")
    assert {h: s for h, (s, _why) in _hosts(store).items()} == {"h1": "active", "h2": "active"}


def test_a_live_migration_under_way_is_no_conflicting_claim(
    tmp_path: Path, store: AclUsers
) -> None:
    """While b1 migrates from h2 to h1 both agents report it running (libvirt shows the
    guest on both hosts for a moment): the executor's running record keeps it on its
    source and neither host turns failed — an evacuation in progress is not cancelled."""
    record = MigrationRecord(id="m2", vm="b1", source="h2", dest="h1", mode="live",
                             reason="evacuation", epoch=None, started_at=1.0,
                             result="running")  # fmt: skip
    with store.admin() as admin:  # as the executor writes it when the migration starts
        admin.hset(K.running, "m2", msgspec.json.encode(record))
    both = write_node(tmp_path, "h1", ("a1", "b1"))
    env = {"BALANCER_REDIS_URL": store.url("agent-h1"), "PATH": "/usr/bin:/bin"}
    r = balancer("agent", "--libvirt-uri", both, "--host-name", "h1", "--once", env=env)
    assert r.returncode == 0, r.stderr
    assert _placement(store)["b1"] == ("h2", "running")
    assert _hosts(store) == {"h1": ("active", ""), "h2": ("active", "")}


def _hosts(users: AclUsers) -> dict[str, tuple[str, str]]:
    with redis_from_url(users.url("reader")) as reader:
        snap = snapshot_from_redis(reader)
    return {h.name: (h.state, h.state_reason) for h in snap.hosts}


#: (user, what, command): a role writing outside its role.
ROLE_ATTACKS = [
    ("reader", "set a policy", ("SET", K.policy, "{}")),
    ("reader", "queue a migration", ("LPUSH", "migrations", "{}")),
    ("operator", "forge an outcome", ("SET", K.outcome("b1"), "{}")),
    ("operator", "take a VM's lease", ("SET", K.lease("b1"), "evil", "PX", 10**9)),
    ("operator", "bump the epoch", ("INCR", K.epoch)),
    ("operator", "overwrite a report", ("SET", K.report("h2"), b"x")),
    ("dispatcher", "set a host's state", ("HSET", K.host_state, "h2", "{}")),
    ("dispatcher", "forge an outcome", ("SET", K.outcome("b1"), "{}")),
    ("worker", "set a policy", ("SET", K.policy, "{}")),
    ("worker", "take the lead", ("SET", K.leader, "{}")),
    ("worker", "overwrite a report", ("SET", K.report("h2"), b"x")),
    ("daemon", "set a policy", ("SET", K.policy, "{}")),
    ("daemon", "forge an outcome", ("SET", K.outcome("b1"), "{}")),
    ("daemon", "overwrite a report", ("SET", K.report("h2"), b"x")),
    ("daemon", "pause every client", ("CLIENT", "PAUSE", 3000)),
]


def test_a_role_cannot_write_outside_its_role(store: AclUsers) -> None:
    refused: dict[str, list[str]] = {}
    for user in sorted({u for u, _w, _c in ROLE_ATTACKS}):
        attacks = [(w, c) for u, w, c in ROLE_ATTACKS if u == user]
        with redis_from_url(store.url(user)) as client:
            refused[user] = _not_refused(client, attacks)
    assert refused == {user: [] for user in refused}
    assert denied_count(store) == len(ROLE_ATTACKS)
