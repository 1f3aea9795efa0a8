"""Reading the store's bytes: one generation, in two round trips.

The host list and the policy are read under WATCH, then every report, heartbeat and
operator fact, and the migrations since ``migrated_since(policy)`` (the cool-down window),
in one MULTI/EXEC (redis-py's pipeline), which Redis runs without interleaving any
agent's write; a host registering or a policy change in between aborts the transaction
and the read is retried. redis-py parses the reply (with hiredis when it is installed);
then each report goes through ``on_report`` (the snapshot read decodes it there).

A key holding another type than the schema's (a string where a hash belongs: WRONGTYPE)
would fail every read: such keys are found with ``TYPE``, logged, and read as empty
(``None``, no entries) while they stay wrong — the rest of the snapshot is read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import redis

from balancer.errors import RetryableError
from balancer.state.keys import DEFAULT_KEYS, Keys
from balancer.state.replies import hash_reply, scores_reply

R = TypeVar("R")
Command = tuple[str | bytes, ...]
_ATTEMPTS = 5
#: Position of the reports' MGET among the transaction's commands.
_REPORTS = 9
#: The type of each key read before the reports, and what it reads as when it holds
#: another type (its command skipped).
_TYPES = ("string", "string", "hash", "hash", "string", "hash", "zset", "hash", "hash")
_EMPTY: tuple[Any, ...] = (None, None, {}, {}, None, {}, [], {}, {})
assert len(_TYPES) == len(_EMPTY) == _REPORTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawStore(Generic[R]):
    """What one transaction returned; ``reports`` as ``on_report`` made them, by host."""

    schema: bytes | None
    generation: int
    names: tuple[str, ...]
    reports: tuple[R, ...]
    alive: tuple[bytes | None, ...]
    overrides: dict[bytes, bytes]
    rules: dict[bytes, bytes]
    policy: bytes | None
    vm_labels: dict[bytes, bytes]
    #: VM → epoch seconds (as stored) of the migrations within the window asked for.
    migrated: dict[bytes, bytes]
    #: ``<source> <dest>`` → JSON ``Link``: measured migration bandwidth per host pair.
    links: dict[bytes, bytes]
    #: Host → JSON power record (hosts the balancer powered off or on).
    power: dict[bytes, bytes]


def _commands(keys: Keys, names: tuple[str, ...], since: float) -> list[Command]:
    commands: list[Command] = [
        ("GET", keys.schema),
        ("GET", keys.generation),
        ("HGETALL", keys.host_state),
        ("HGETALL", keys.rules),
        ("GET", keys.policy),
        ("HGETALL", keys.vm_labels),
        ("ZRANGE", keys.vm_migrated, _bound(since), "+inf", "BYSCORE", "WITHSCORES"),
        ("HGETALL", keys.links),
        ("HGETALL", keys.power),
    ]
    if names:
        commands.append(("MGET", *(keys.report(n) for n in names)))
        commands.append(("MGET", *(keys.alive(n) for n in names)))
    return commands


def _bound(score: float) -> str:
    return "+inf" if score == math.inf else "-inf" if score == -math.inf else repr(score)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _wrong_types(client: redis.Redis, keys: Keys) -> frozenset[int]:
    """The positions of the keys read before the reports that hold another type than
    the schema's (each logged); -1 for the host set."""
    fixed = [c[1] for c in _commands(keys, (), 0.0)]
    with client.pipeline(transaction=False) as pipe:
        for key in (keys.hosts, *fixed):
            pipe.type(key)
        found = [_text(t) for t in pipe.execute()]
    wrong = frozenset(i for i, t in enumerate(found[1:]) if t not in (_TYPES[i], "none"))
    for i in sorted(wrong):
        log.error("%s holds a %s, not a %s: read as empty (an admin fixes or deletes it)",
                  fixed[i], found[i + 1], _TYPES[i])  # fmt: skip
    if found[0] not in ("set", "none"):
        log.error("%s holds a %s, not a set: no host can be read", keys.hosts, found[0])
        return wrong | {-1}
    return wrong


def _without(commands: list[Command], skip: frozenset[int]) -> list[Command]:
    return [c for i, c in enumerate(commands) if i >= _REPORTS or i not in skip]


def _with_empty(results: list[Any], skip: frozenset[int]) -> list[Any]:
    out = list(results)
    for i in sorted(i for i in skip if i >= 0):
        out.insert(i, _EMPTY[i])
    return out


def _transaction(
    client: redis.Redis,
    keys: Keys,
    on_report: Callable[[bytes | None], R],
    migrated_since: Callable[[bytes | None], float],
) -> tuple[tuple[str, ...], list[Any]]:
    skip: frozenset[int] = frozenset()
    for _ in range(_ATTEMPTS):
        with client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(keys.hosts, keys.policy)  # type: ignore[no-untyped-call]
                hosts = [] if -1 in skip else pipe.smembers(keys.hosts)
                names = tuple(sorted(_text(n) for n in hosts))
                policy = None if 4 in skip else pipe.get(keys.policy)
                since = migrated_since(cast(bytes | None, policy))
                commands = _without(_commands(keys, names, since), skip)
                pipe.multi()
                for command in commands:
                    pipe.execute_command(*command)  # type: ignore[no-untyped-call]
                results: list[Any] = pipe.execute()
            except redis.WatchError:
                continue
            except redis.ResponseError as exc:
                if "WRONGTYPE" not in str(exc) or skip:
                    raise
                skip = _wrong_types(client, keys)
                continue
        results = _with_empty(results, skip)
        if names:
            results[_REPORTS] = [on_report(blob) for blob in results[_REPORTS]]
        return names, results
    raise RetryableError(f"hosts kept registering during {_ATTEMPTS} snapshot reads; try again")


def _identity(blob: bytes | None) -> bytes | None:
    return blob


def _none(policy: bytes | None) -> float:
    return math.inf


def read_raw_as(
    client: redis.Redis,
    keys: Keys,
    on_report: Callable[[bytes | None], R],
    migrated_since: Callable[[bytes | None], float] = _none,
) -> RawStore[R]:
    """One generation of the store, each report as ``on_report`` turned it, and the
    migrations from ``migrated_since(policy as stored)`` on (default: none)."""
    names, results = _transaction(client, keys, on_report, migrated_since)
    schema, gen, over, rules, policy, labels, moved, links, power = results[:_REPORTS]
    reports, alive = (results[_REPORTS], results[_REPORTS + 1]) if names else ([], [])
    return RawStore(
        schema=schema,
        generation=int(gen or 0),
        names=names,
        reports=tuple(reports),
        alive=tuple(alive),
        overrides=hash_reply(over),
        rules=hash_reply(rules),
        policy=policy,
        vm_labels=hash_reply(labels),
        migrated=scores_reply(moved),
        links=hash_reply(links),
        power=hash_reply(power),
    )


def read_raw(
    client: redis.Redis,
    keys: Keys = DEFAULT_KEYS,
    migrated_since: Callable[[bytes | None], float] = _none,
) -> RawStore[bytes | None]:
    """One generation of the store, the reports as stored (msgpack bytes)."""
    return read_raw_as(client, keys, _identity, migrated_since)
