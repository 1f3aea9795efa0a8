"""Evacuations and the pause in a real redis-server: created with the host's maintenance
in one transaction, cancelled and resumed by operators, updated by the daemon only under
its epoch and never over an operator's change."""

from __future__ import annotations

from typing import cast

import msgspec
import pytest
import redis

from balancer.control.intents import Evacuation
from balancer.errors import InputError
from balancer.state.intents_store import (
    pause,
    read_intents,
    set_evacuation_state,
    start_evacuation,
    unpause,
    update_evacuations,
)
from balancer.state.keys import Keys
from balancer.state.overrides import decode_override

KEYS = Keys("t")


@pytest.fixture
def client(redis_client: redis.Redis) -> redis.Redis:
    redis_client.sadd(KEYS.hosts, "h1", "h2")
    redis_client.set(KEYS.epoch, "3")
    return redis_client


def test_an_evacuation_puts_its_host_in_maintenance(client: redis.Redis) -> None:
    e = start_evacuation(client, KEYS, "h1", reason="DIMM", by="ops", now=1000.0)
    assert (e.host, e.state, e.by, e.reason) == ("h1", "running", "ops", "DIMM")
    override = decode_override(cast(bytes, client.hget(KEYS.host_state, "h1")), "x")
    assert (override.state, override.reason) == ("maintenance", "DIMM")
    assert read_intents(client, KEYS).intents.evacuations == (e,)


def test_unknown_and_doubly_evacuated_hosts_are_refused_and_nothing_written(
    client: redis.Redis,
) -> None:
    with pytest.raises(InputError, match="unknown host 'h9'"):
        start_evacuation(client, KEYS, "h9", now=1.0)
    assert client.hlen(KEYS.evacuations) == 0
    assert client.hlen(KEYS.host_state) == 0
    first = start_evacuation(client, KEYS, "h1", now=1.0)
    with pytest.raises(InputError, match=f"already being evacuated \\({first.id}"):
        start_evacuation(client, KEYS, "h1", now=2.0)
    assert client.hlen(KEYS.evacuations) == 1


def test_cancel_and_resume_follow_their_states(client: redis.Redis) -> None:
    e = start_evacuation(client, KEYS, "h1", now=1.0)
    with pytest.raises(InputError, match="cannot resume"):
        set_evacuation_state(client, KEYS, e.id, "running", now=2.0)
    cancelled = set_evacuation_state(client, KEYS, e.id, "cancelled", now=2.0)
    assert cancelled.state == "cancelled"
    assert read_intents(client, KEYS).intents.held_hosts() == {"h1"}
    resumed = set_evacuation_state(client, KEYS, e.id, "running", now=3.0)
    assert (resumed.state, resumed.updated_at) == ("running", 3.0)
    with pytest.raises(InputError, match="no evacuation 'nope'"):
        set_evacuation_state(client, KEYS, "nope", "cancelled", now=4.0)


def test_the_daemons_update_never_overwrites_an_operators_cancel(client: redis.Redis) -> None:
    e = start_evacuation(client, KEYS, "h1", now=1.0)
    stored = read_intents(client, KEYS)  # the daemon reads at the start of its cycle
    set_evacuation_state(client, KEYS, e.id, "cancelled", now=2.0)  # the operator cancels
    progress = msgspec.structs.replace(e, vms_left=3, updated_at=5.0)
    written = update_evacuations(client, KEYS, [(e.id, stored.raw[e.id], progress)], epoch=3)
    assert written == 0
    assert read_intents(client, KEYS).intents.evacuations[0].state == "cancelled"


def test_a_stale_epoch_writes_nothing(client: redis.Redis) -> None:
    e = start_evacuation(client, KEYS, "h1", now=1.0)
    stored = read_intents(client, KEYS)
    done = msgspec.structs.replace(e, state="done", vms_left=0, finished_at=9.0)
    assert update_evacuations(client, KEYS, [(e.id, stored.raw[e.id], done)], epoch=2) is None
    assert read_intents(client, KEYS).intents.evacuations[0].state == "running"
    assert update_evacuations(client, KEYS, [(e.id, stored.raw[e.id], done)], epoch=3) == 1
    assert read_intents(client, KEYS).intents.evacuations[0].state == "done"


def test_a_new_evacuation_from_the_daemon_is_added_once(client: redis.Redis) -> None:
    e = Evacuation(id="ev-h2-5", host="h2", by="daemon", created_at=5.0, updated_at=5.0)
    assert update_evacuations(client, KEYS, [(e.id, None, e)], epoch=3) == 1
    assert update_evacuations(client, KEYS, [(e.id, None, e)], epoch=3) == 0
    assert [x.id for x in read_intents(client, KEYS).intents.evacuations] == ["ev-h2-5"]


def test_a_malformed_evacuation_is_skipped_not_fatal(client: redis.Redis) -> None:
    start_evacuation(client, KEYS, "h1", now=1.0)
    client.hset(KEYS.evacuations, "junk", b"{not json")
    assert [e.host for e in read_intents(client, KEYS).intents.evacuations] == ["h1"]


def test_pause_and_unpause(client: redis.Redis) -> None:
    assert read_intents(client, KEYS).intents.paused is None
    pause(client, KEYS, by="ops", reason="network work", now=7.0)
    paused = read_intents(client, KEYS).intents.paused
    assert paused is not None
    assert (paused.by, paused.reason, paused.at) == ("ops", "network work", 7.0)
    assert unpause(client, KEYS)
    assert not unpause(client, KEYS)
    assert read_intents(client, KEYS).intents.paused is None
