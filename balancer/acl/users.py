"""The Redis users of kvm-balancer as data: what each may run on which keys, and the
``ACL SETUSER`` line that creates it (pure: no I/O; the password comes in).

Redis 7 ACLs (``ACL SETUSER``, https://redis.io/docs/management/security/acl/): a user
has root permissions plus *selectors* ``(...)``; a command runs if the root or one
selector allows the command on every key it names. ``%R~pattern`` grants reading the
matching keys, ``%W~pattern`` writing them, ``~pattern`` both; whether a command reads
or writes a key is Redis's own key specification (``SET k v`` writes, ``SET k v GET``
also reads, ``INCR`` reads and writes). So an agent with ``(%W~kvmb:host:h1:report
+set)`` can store its report but cannot read any key with ``SET … GET``.

Every user starts from ``reset`` (no password, no keys, no channels, no commands), so
running a line again replaces the user whole.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from balancer.errors import InputError
from balancer.state.keys import DEFAULT_PREFIX, Keys

#: What a name (host, prefix) may hold so that it is one ACL argument and no pattern:
#: no space, quote, ``*?[]\`` or parenthesis.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")

ROLES = ("reader", "operator", "dispatcher", "worker", "daemon")

#: What every user may do without a key: authenticate, ping, and nothing else of
#: ``@connection`` (no CLIENT LIST/KILL/PAUSE, no SELECT, no MONITOR).
CONNECTION = ("+auth", "+hello", "+ping")
#: Transactions (MULTI/EXEC; DISCARD when a transaction is abandoned).
TRANSACTION = ("+multi", "+exec", "+discard")
#: Read-only commands the readers use (snapshots, listings, the exporter, status).
READ = (
    "+get", "+mget", "+exists", "+type", "+pttl", "+smembers", "+sismember", "+scard",
    "+hgetall", "+hget", "+hmget", "+hkeys", "+hvals", "+hlen", "+hexists",
    "+zrange", "+zrangebyscore", "+zscore", "+zcard", "+zcount", "+xrange", "+xrevrange", "+xlen",
    "+llen", "+lrange", "+watch", "+unwatch", "+time",
)  # fmt: skip
#: Lua scripts (the fences, the leader's lease, compare-and-sets): each command a script
#: runs is checked again against the user's permissions.
SCRIPTS = ("+evalsha", "+script|load", "+script|exists")


def check_name(value: str, what: str) -> str:
    if not _SAFE.fullmatch(value):
        raise InputError(
            f"{value!r} cannot be put in an ACL: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit)",
            what,
        )
    return value


def new_password() -> str:
    """256 random bits, URL-safe base64 (no character to quote on a command line or
    percent-encode in a URL)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Grant:
    """One selector: ``commands`` on the keys matching ``read`` (``%R~``), ``write``
    (``%W~``) or ``both`` (``~``) patterns."""

    commands: tuple[str, ...]
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    both: tuple[str, ...] = ()

    def text(self) -> str:
        patterns = (
            [f"%R~{p}" for p in self.read]
            + [f"%W~{p}" for p in self.write]
            + [f"~{p}" for p in self.both]
        )
        return "(" + " ".join([*patterns, *self.commands]) + ")"


@dataclass(frozen=True)
class User:
    """A Redis user: keyless ``commands`` (connection, transactions), its selectors, the
    Pub/Sub ``channels`` it may use (patterns)."""

    name: str
    role: str
    commands: tuple[str, ...]
    grants: tuple[Grant, ...]
    channels: tuple[str, ...] = field(default=())

    def setuser(self, password: str) -> str:
        """``ACL SETUSER <name> reset on ><password> …``: one line redis-cli accepts."""
        if not password or any(c.isspace() for c in password):
            raise InputError("a password must be non-empty and hold no white space")
        parts = ["ACL", "SETUSER", self.name, "reset", "on", f">{password}"]
        parts += [f"&{c}" for c in self.channels]
        parts += self.commands
        parts += [g.text() for g in self.grants]
        return " ".join(parts)


def agent(host: str, prefix: str = DEFAULT_PREFIX) -> User:
    """``agent-HOST``: the host's own report, heartbeat and history; the shared keys its
    publish touches, each with the one command it needs; reads back only the schema and
    the executor's measures of its own VMs."""
    check_name(host, "HOST")
    k = Keys(check_name(prefix, "--prefix"))
    return User(
        name=f"agent-{host}",
        role="agent",
        commands=(*CONNECTION, "+multi", "+exec"),
        grants=(
            Grant(("+get",), read=(k.schema,)),
            Grant(("+sadd",), write=(k.hosts,)),
            Grant(("+set",), write=(k.report(host),)),
            Grant(("+set",), write=(k.alive(host),)),
            Grant(("+xadd",), write=(k.history(host),)),
            Grant(("+incr",), both=(k.generation,)),
            Grant(("+hgetall",), read=(k.vm_resident(host),)),
        ),
    )


def _reader_grant(k: Keys) -> Grant:
    return Grant(READ, read=(k.every(),))


#: kombu's Redis transport (Celery's broker): the queue's lists, one per priority step
#: (``migrations``, ``migrations:1`` … ``:9``), the unacknowledged messages
#: (``unacked*``) and the exchange bindings (``_kombu.*``).
KOMBU_KEYS = ("migrations", "migrations:*", "unacked", "unacked_index", "unacked_mutex",
              "_kombu.*")  # fmt: skip
#: Celery's Redis result backend: results, and the chords' group counters.
RESULT_KEYS = ("celery-task-meta-*", "celery-taskset-meta-*")
#: Pub/Sub: results are announced on a channel named like their key.
CHANNELS = ("celery-task-meta-*",)
PUBSUB = ("+subscribe", "+unsubscribe", "+psubscribe", "+punsubscribe", "+publish")
_RESULTS = Grant(
    ("+get", "+mget", "+set", "+setex", "+del", "+expire", "+pexpire", "+incr", "+incrby",
     "+decr", "+rpush", "+lrange", "+llen", "+zadd", "+zcount", "+zrange", "+zcard", "+sadd",
     "+sismember", "+exists", *SCRIPTS),
    both=RESULT_KEYS,
)  # fmt: skip


def _sender(k: Keys) -> tuple[Grant, ...]:
    """Queueing Celery tasks (kombu: push onto the queue's lists, bind the queue) and
    following their results; a plan's later waves (``exec:plan:*:waves``)."""
    return (
        Grant(("+lpush", "+llen", "+exists"), both=("migrations", "migrations:*")),
        Grant(("+sadd", "+smembers", "+zadd", *SCRIPTS), both=("_kombu.*",)),
        _RESULTS,
        Grant(("+hset", "+del", "+expire"), write=(k.plan_waves("*"),)),
    )


def _fleet(k: Keys) -> Grant:
    """The simulated fleet's keys (``balancer fleet sim``; a worker with ``--hypervisor
    sim`` moves its VMs there): only with ``balancer acl roles --fleet``."""
    return Grant(
        ("+get", "+set", "+del", "+hget", "+hset", "+hdel", "+hmget", "+hgetall", "+hkeys",
         "+sadd", "+srem", "+smembers", "+scard", "+xadd", "+xrange", *SCRIPTS),
        both=(k.every("sim"),),
    )  # fmt: skip


def roles(prefix: str = DEFAULT_PREFIX, *, fleet: bool = False) -> tuple[User, ...]:
    """The five role users, in the order of ``ROLES``; ``fleet``: the worker may also
    move the simulated fleet's VMs."""
    k = Keys(check_name(prefix, "--prefix"))
    base = (*CONNECTION, *TRANSACTION, "+time")
    reader = User("reader", "reader", base, (_reader_grant(k),))
    cancel = Grant(("+zadd", "+zremrangebyscore", *SCRIPTS), both=(k.cancelled,))
    operator = User(
        "operator",
        "operator",
        base,
        (
            _reader_grant(k),
            Grant(
                ("+hset", "+hdel", "+del"),
                write=(k.host_state, k.rules, k.vm_labels),
            ),
            Grant(("+set", "+del"), write=(k.policy, k.paused)),
            Grant(("+hset",), write=(k.evacuations,)),
            cancel,
        ),
    )
    sender = _sender(k)
    dispatcher = User(
        "dispatcher", "dispatcher", (*base, *PUBSUB), (_reader_grant(k), *sender), CHANNELS
    )
    worker = User(
        "worker",
        "worker",
        (*base, *PUBSUB),
        (
            _reader_grant(k),
            *sender,
            Grant(
                (
                    "+lpush",
                    "+rpush",
                    "+brpop",
                    "+rpop",
                    "+llen",
                    "+lrange",
                    "+exists",
                    "+zadd",
                    "+zrem",
                    "+zrange",
                    "+zrangebyscore",
                    "+hset",
                    "+hget",
                    "+hdel",
                    "+hgetall",
                    "+set",
                    "+get",
                    "+del",
                    "+pexpire",
                    "+expire",
                    "+sadd",
                    "+srem",
                    "+smembers",
                    "+watch",
                    "+unwatch",
                    *SCRIPTS,
                ),
                both=KOMBU_KEYS,
            ),
            Grant(
                (
                    "+set",
                    "+del",
                    "+pexpire",
                    "+expire",
                    "+hset",
                    "+hdel",
                    "+hsetnx",
                    "+hincrby",
                    "+hincrbyfloat",
                    "+zadd",
                    "+zrem",
                    "+zremrangebyscore",
                    "+xadd",
                    *SCRIPTS,
                ),
                both=(k.every("exec"), k.epoch),
            ),
            Grant(("+zadd", "+zremrangebyscore"), write=(k.vm_migrated,)),
            Grant(
                ("+hset", "+hdel"),
                write=(k.vm_resident("*"), k.power, k.links),
            ),
            *((_fleet(k),) if fleet else ()),
        ),
        CHANNELS,
    )
    daemon = User(
        "daemon",
        "daemon",
        (*base, *PUBSUB),
        (
            _reader_grant(k),
            *sender,
            Grant(
                (
                    "+set",
                    "+del",
                    "+pexpire",
                    "+incr",
                    "+hset",
                    "+hsetnx",
                    "+hdel",
                    "+xadd",
                    *SCRIPTS,
                ),
                both=(k.every("ctl"),),
            ),
            cancel,
        ),
        CHANNELS,
    )
    return (reader, operator, dispatcher, worker, daemon)


def lines(users: Sequence[User], passwords: Sequence[str]) -> list[str]:
    return [u.setuser(pw) for u, pw in zip(users, passwords, strict=True)]
