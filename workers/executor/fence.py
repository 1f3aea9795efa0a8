"""The fence: one atomic Redis script before every libvirt action, since libvirt itself
cannot check a token (Kleppmann, "How to do distributed locking", 2016).

A leader's daemon sends its orders under its **fencing epoch** (``Keys.epoch``, which
every new leader increments). A paused old leader may wake and send tasks; they are
refused here, where they act, not where they are sent. Right before starting a
migration, raising its max downtime, switching it to post-copy, suspending the guest or
powering a host off or on, the worker runs ``GUARD``, which in one step:

1. refuses if the order's id or its plan's id is in ``Keys.cancelled`` → ``cancelled``;
2. refuses if the order has an epoch and it is not the current ``Keys.epoch`` (or there
   is none) → ``fenced``; an operator's order (no epoch) is not fenced by leadership;
3. refuses if the lease (``Keys.lease(vm)`` or ``Keys.power_lease(host)``) is held by
   another token → ``busy``; otherwise takes it, or keeps it, for ``ttl`` with the value
   ``<token> <epoch>`` (``-`` for no epoch) → ``ok``.

While a migration runs, every watch poll runs ``RENEW``: it keeps the lease only if this
token holds it (or re-takes it if it vanished, e.g. a Redis restarted without its data)
and pushes the expiry of the task's migration slots, in one step — never GET then
PEXPIRE, which lets a lease that expired between the two be extended for its new holder.
``RENEW`` does not look at the epoch: a migration already running when its epoch goes
stale is left to finish (aborting it would be worse), but every ladder rung goes through
``GUARD`` first, so none is climbed under a stale epoch. ``RELEASE`` deletes the lease
only for its holder.

A refusal raises ``CancelledError`` or ``FencedError`` (``RefusedError``: recorded as
such, never as a failure, never retried), or ``BusyError`` (retried later).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis

from balancer.errors import BusyError, CancelledError, FencedError
from balancer.state.exec_stats import record_count
from balancer.state.keys import DEFAULT_KEYS, LEASE_TTL_S, PLAN_KEEP_S, Keys
from workers.executor.redis_edge import redis_edge

GUARD = """
-- KEYS: cancelled (zset), epoch, lease. ARGV: id, plan id, epoch ('' none), token, ttl ms.
if redis.call('ZSCORE', KEYS[1], ARGV[1])
   or (ARGV[2] ~= '' and redis.call('ZSCORE', KEYS[1], ARGV[2])) then
  return {'cancelled', ''}
end
if ARGV[3] ~= '' then
  local current = redis.call('GET', KEYS[2])
  if not current or tonumber(current) ~= tonumber(ARGV[3]) then
    return {'fenced', current or ''}
  end
end
local holder = redis.call('GET', KEYS[3])
if holder and string.match(holder, '^(%S+)') ~= ARGV[4] then
  return {'busy', holder}
end
local epoch = ARGV[3]
if epoch == '' then epoch = '-' end
redis.call('SET', KEYS[3], ARGV[4] .. ' ' .. epoch, 'PX', ARGV[5])
return {'ok', ''}
"""
"""``{verdict, detail}``: ``ok``; ``cancelled``; ``fenced`` with the current epoch;
``busy`` with the lease's value."""

RENEW = """
-- KEYS: lease, then slot zsets. ARGV: token, ttl ms, epoch ('-' none).
if redis.replicate_commands then redis.replicate_commands() end
local holder = redis.call('GET', KEYS[1])
if holder and string.match(holder, '^(%S+)') ~= ARGV[1] then
  return {0, holder}
end
if holder then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[3], 'PX', ARGV[2])
end
if #KEYS > 1 then
  local t = redis.call('TIME')
  local expiry = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[2]) / 1000
  for i = 2, #KEYS do
    redis.call('ZADD', KEYS[i], expiry, ARGV[1])
  end
end
return {1, ''}
"""
"""``{1, ''}`` renewed (or re-taken); ``{0, value}``: another token holds the lease."""

RELEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and string.match(holder, '^(%S+)') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
"""Delete the lease ``KEYS[1]`` if token ``ARGV[1]`` holds it; 1 if deleted."""

CANCEL = """
-- KEYS: cancelled (zset). ARGV: seconds to keep an entry, then the ids.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
local added = 0
for i = 2, #ARGV do
  added = added + redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i])
end
return added
"""
"""Add the ids to the cancelled set (a week's older entries pruned); how many were new."""


@dataclass(frozen=True)
class Ticket:
    """Who acts, for what: the order's id, its plan's, its epoch; the task's token."""

    id: str
    plan_id: str
    epoch: int | None
    token: str


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Fence:
    def __init__(
        self, client: redis.Redis, keys: Keys = DEFAULT_KEYS, ttl_s: float = LEASE_TTL_S
    ) -> None:
        self.client, self.keys, self.ttl_s = client, keys, ttl_s
        self._guard = client.register_script(GUARD)
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)
        self._cancel = client.register_script(CANCEL)

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl_s * 1000)

    def check(self, lease: str, t: Ticket) -> None:
        """Right before a libvirt action: take or keep ``lease`` under ``t``'s epoch, or
        raise ``CancelledError``, ``FencedError``, ``BusyError`` (``RetryableError`` when
        Redis cannot answer: the action must then not happen)."""
        epoch = "" if t.epoch is None else str(t.epoch)
        with redis_edge(f"check the fence for {t.id}"):
            verdict, detail = self._guard(
                keys=[self.keys.cancelled, self.keys.epoch, lease],
                args=[t.id, t.plan_id, epoch, t.token, self.ttl_ms],
            )
        verdict, detail = _text(verdict), _text(detail)
        if verdict == "cancelled":
            raise CancelledError(f"{t.id} was cancelled (or its plan {t.plan_id or '-'})")
        if verdict == "fenced":
            raise FencedError(f"{t.id} was sent under epoch {epoch}; "
                              f"the current epoch is {detail or 'unset'}")  # fmt: skip
        if verdict == "busy":
            record_count(self.client, self.keys, "lease_busy")
            raise BusyError(f"{lease} is held by another task ({detail})")

    def renew(self, lease: str, t: Ticket, slot_keys: Sequence[str] = ()) -> str | None:
        """Keep ``lease`` (and push the expiry of ``slot_keys``) if ``t.token`` holds it;
        None when renewed, else the value of the lease another token holds."""
        epoch = "-" if t.epoch is None else str(t.epoch)
        with redis_edge(f"renew the lease {lease}"):
            ok, holder = self._renew(keys=[lease, *slot_keys], args=[t.token, self.ttl_ms, epoch])
        return None if int(ok) == 1 else _text(holder)

    def release(self, lease: str, token: str) -> bool:
        with redis_edge(f"release the lease {lease}"):
            return bool(self._release(keys=[lease], args=[token]))

    def holder(self, lease: str) -> str | None:
        """The token holding ``lease`` (None: free)."""
        with redis_edge(f"read the lease {lease}"):
            value = self.client.get(lease)
        return None if value is None else _text(value).split(" ", 1)[0]

    def cancel(self, ids: Iterable[str]) -> int:
        """Refuse from now on every action of these migration, power-task or plan ids."""
        todo = [i for i in ids if i]
        if not todo:
            return 0
        with redis_edge("record cancelled moves"):
            return int(self._cancel(keys=[self.keys.cancelled], args=[PLAN_KEEP_S, *todo]))
