"""The operators' intents in the store: evacuations (``kvmb:ctl:evacuations``, id → JSON
``Evacuation``) and the daemon's pause (``kvmb:ctl:paused``).

An evacuation is durable: it survives a daemon restart and a leader change because it is
here, not in a daemon. Operators create, cancel and resume evacuations (``balancer
evacuate``, ``cancel``, ``resume``); the leading daemon keeps their progress (``vms_left``,
``done``) with a compare-and-set per evacuation under its epoch, so an operator's cancel
made while a cycle runs is never overwritten by that cycle.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TypeVar

import msgspec
import redis
from redis.client import Pipeline

from balancer.control.intents import Evacuation, Intents, Pause
from balancer.errors import InputError
from balancer.state.keys import Keys
from balancer.state.overrides import HostOverride, encode_json

log = logging.getLogger(__name__)
T = TypeVar("T")

_evacuation = msgspec.json.Decoder(Evacuation)
_pause = msgspec.json.Decoder(Pause)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_ATTEMPTS = 10

#: KEYS: evacuations, epoch. ARGV: epoch, then (id, old JSON or "", new JSON) triples.
#: Writes each new value only if the stored one is still the old one (HSETNX for new
#: evacuations), and nothing at all under a stale epoch. Returns how many were written.
_UPDATE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return -1
end
local written = 0
for i = 2, #ARGV, 3 do
  local id, old, new = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if old == '' then
    written = written + redis.call('HSETNX', KEYS[1], id, new)
  elseif redis.call('HGET', KEYS[1], id) == old then
    redis.call('HSET', KEYS[1], id, new)
    written = written + 1
  end
end
return written
"""


class StoredIntents(msgspec.Struct, frozen=True, kw_only=True):
    intents: Intents
    #: Each evacuation as stored (for the compare-and-set of ``update_evacuations``).
    raw: dict[str, bytes]


def read_intents(client: redis.Redis, keys: Keys) -> StoredIntents:
    """The pause and every evacuation; a malformed value is logged and left out."""
    with client.pipeline(transaction=True) as pipe:
        pipe.get(keys.paused)
        pipe.hgetall(keys.evacuations)
        paused_raw, evacuations_raw = pipe.execute()
    paused = None
    if paused_raw is not None:
        try:
            paused = _pause.decode(paused_raw)
        except msgspec.DecodeError as exc:
            log.warning("%s does not decode (%s); treated as paused", keys.paused, exc)
            paused = Pause(at=0.0, reason="unreadable pause record")
    evacuations: list[Evacuation] = []
    raw: dict[str, bytes] = {}
    for k, v in evacuations_raw.items():
        try:
            evacuation = _evacuation.decode(v)
        except msgspec.DecodeError as exc:
            log.warning("evacuation %r does not decode (%s); ignored", k, exc)
            continue
        evacuations.append(evacuation)
        raw[evacuation.id] = v
    evacuations.sort(key=lambda e: (e.created_at, e.id))
    return StoredIntents(intents=Intents(paused=paused, evacuations=tuple(evacuations)), raw=raw)


def update_evacuations(
    client: redis.Redis,
    keys: Keys,
    updates: list[tuple[str, bytes | None, Evacuation]],
    epoch: int,
) -> int | None:
    """Write ``(id, as read or None for a new one, new value)`` each unless someone changed
    it meanwhile; ``None`` (nothing written) when ``epoch`` is no longer current."""
    if not updates:
        return 0
    args: list[str | bytes] = [str(epoch)]
    for eid, old, new in updates:
        args += [eid, old or b"", encode_json(new)]
    script = client.register_script(_UPDATE)
    written = int(script(keys=[keys.evacuations, keys.epoch], args=args))
    return None if written < 0 else written


def evacuation_id(host: str, now: float) -> str:
    """``ev-<host>-<seconds>``: readable, and unique per host and second."""
    return f"ev-{_UNSAFE.sub('_', host)}-{int(now)}"


def open_evacuation(client: redis.Redis, keys: Keys, host: str) -> Evacuation | None:
    """The running or cancelled evacuation of ``host``, if any."""
    for e in read_intents(client, keys).intents.evacuations:
        if e.host == host and e.state != "done":
            return e
    return None


def _watched(client: redis.Redis, watch: tuple[str, ...], body: Callable[[Pipeline], T]) -> T:
    """``body`` on a pipeline watching ``watch`` (it reads, then ``multi()`` and writes),
    run again when a watched key changed meanwhile."""
    for _ in range(_ATTEMPTS):
        with client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(*watch)  # type: ignore[no-untyped-call]
                return body(pipe)
            except redis.WatchError:
                continue
    raise InputError("the evacuations kept changing; try again")


def start_evacuation(
    client: redis.Redis,
    keys: Keys,
    host: str,
    *,
    reason: str = "",
    by: str = "",
    state: str = "maintenance",
    now: float,
) -> Evacuation:
    """Put ``host`` in maintenance (or draining) and record a running evacuation of it,
    in one transaction. Refused (``InputError``) for a host the store does not know or
    one already being evacuated."""
    if state not in ("maintenance", "draining"):
        raise InputError(f"an evacuation puts a host in maintenance or draining, not {state}")

    def body(pipe: Pipeline) -> Evacuation:
        if not pipe.sismember(keys.hosts, host):
            raise InputError(f"unknown host {host!r}", "HOST")
        for value in pipe.hvals(keys.evacuations):
            other = _evacuation.decode(value)
            if other.host == host and other.state != "done":
                raise InputError(
                    f"{host} is already being evacuated ({other.id}, {other.state})", "HOST"
                )
        evacuation = Evacuation(
            id=evacuation_id(host, now),
            host=host,
            reason=reason,
            by=by,
            created_at=now,
            updated_at=now,
        )
        override = HostOverride(state=state, reason=reason or "evacuation", set_at=now)  # type: ignore[arg-type]
        pipe.multi()
        pipe.hset(keys.evacuations, evacuation.id, encode_json(evacuation))
        pipe.hset(keys.host_state, host, encode_json(override))
        pipe.execute()
        return evacuation

    return _watched(client, (keys.evacuations, keys.hosts), body)


def set_evacuation_state(
    client: redis.Redis, keys: Keys, evacuation_id: str, state: str, *, now: float
) -> Evacuation:
    """Cancel (``running`` → ``cancelled``) or resume (``cancelled`` → ``running``) an
    evacuation; anything else is refused with the reason."""
    allowed = {"cancelled": "running", "running": "cancelled"}
    if state not in allowed:
        raise InputError(f"an evacuation can be cancelled or resumed, not set {state}")

    def body(pipe: Pipeline) -> Evacuation:
        raw = pipe.hget(keys.evacuations, evacuation_id)
        if raw is None:
            raise InputError(f"no evacuation {evacuation_id!r}", "ID")
        current = _evacuation.decode(raw)
        if current.state != allowed[state]:
            verb = "cancel" if state == "cancelled" else "resume"
            raise InputError(f"cannot {verb} {evacuation_id}: it is {current.state}")
        new = msgspec.structs.replace(current, state=state, updated_at=now)
        pipe.multi()
        pipe.hset(keys.evacuations, evacuation_id, encode_json(new))
        pipe.execute()
        return new

    return _watched(client, (keys.evacuations,), body)


def pause(client: redis.Redis, keys: Keys, *, by: str = "", reason: str = "", now: float) -> Pause:
    value = Pause(at=now, by=by, reason=reason)
    client.set(keys.paused, encode_json(value))
    return value


def unpause(client: redis.Redis, keys: Keys) -> bool:
    """Resume the daemon; ``False`` if it was not paused."""
    return bool(client.delete(keys.paused))
