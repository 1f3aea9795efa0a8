"""Writing a host report: one MULTI/EXEC transaction, so one round trip, and readers see
the report, its heartbeat, the history entry and the generation change together.

The same round trip reads what the executor measured of the host's VMs
(``host:<name>:vm-resident-mib``); the agent puts it in its next report, so a snapshot
reads only reports, never a cluster-wide per-VM hash."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from balancer.errors import PermanentError
from balancer.state.keys import SCHEMA_VERSION, Keys
from balancer.state.replies import hash_reply
from balancer.state.report import HostReport, encode_report, encode_samples, history_samples

#: History entries kept per host (each holds every VM's sample of one report).
DEFAULT_HISTORY_LEN = 12

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """The store's generation after the report, and the executor's measures of the
    host's VMs as they stood (VM → non-zero MiB; for the agent's next report)."""

    generation: int
    resident_mib: Mapping[str, float]


def decode_resident(stored: Any, where: str) -> dict[str, float]:
    """``HGETALL`` of a host's ``vm-resident-mib`` (a map, or RESP2's flat list); a value
    that is not a finite size ≥ 0 is logged and left out (unknown: all memory counts)."""
    out: dict[str, float] = {}
    for k, v in hash_reply(stored).items():
        vm = k.decode() if isinstance(k, bytes) else str(k)
        try:
            mib = float(v)
        except ValueError:
            mib = math.nan
        if 0 <= mib < math.inf:
            out[vm] = mib
        else:
            log.warning("%s[%s]: not a size in MiB (%r); ignored", where, vm, v)
    return out


def read_resident(client: redis.Redis, keys: Keys, host: str) -> dict[str, float]:
    """The executor's measures of ``host``'s VMs (what ``publish_report`` also returns)."""
    return decode_resident(client.hgetall(keys.vm_resident(host)), keys.vm_resident(host))


def ensure_schema(client: redis.Redis, keys: Keys) -> None:
    """Refuse a store of another schema version; mark an empty one with ours. A per-host
    agent user may only read the mark (an admin sets it: ``SET kvmb:schema 1``,
    docs/security.md), so the mark is read first and written only when absent."""
    stored = client.get(keys.schema)
    if stored is None:
        try:
            client.set(keys.schema, str(SCHEMA_VERSION), nx=True)
        except redis.exceptions.NoPermissionError:
            raise PermanentError(
                f"the Redis store has no schema mark and this user may not set it: an "
                f"admin runs SET {keys.schema} {SCHEMA_VERSION} (docs/security.md)"
            ) from None
        stored = client.get(keys.schema)
    if stored is not None and stored != str(SCHEMA_VERSION).encode():
        raise PermanentError(
            f"the Redis store uses state schema {stored!r}; this version writes "
            f"{SCHEMA_VERSION} (see docs/state-schema.md)"
        )


def publish_report(
    client: redis.Redis,
    keys: Keys,
    report: HostReport,
    *,
    history_len: int = DEFAULT_HISTORY_LEN,
) -> Published:
    """Store ``report`` as the host's latest, renew its heartbeat; return the generation
    and the host's ``vm-resident-mib`` entries."""
    return publish_reports(client, keys, [report], history_len=history_len)[0]


def publish_reports(
    client: redis.Redis,
    keys: Keys,
    reports: Sequence[HostReport],
    *,
    history_len: int = DEFAULT_HISTORY_LEN,
) -> list[Published]:
    """``publish_report`` for several hosts in one transaction (one write and one read):
    what a process that publishes for many hosts (the simulated fleet) saves in round
    trips; readers see all of them or none."""
    blocks = [report_commands(keys, report, history_len) for report in reports]
    out = []
    for report, (*_, generation, resident) in zip(
        reports, _transaction(client, blocks), strict=True
    ):
        where = keys.vm_resident(report.host.name)
        out.append(Published(int(generation), decode_resident(resident, where)))
    return out


def report_commands(keys: Keys, report: HostReport, history_len: int) -> list[tuple[object, ...]]:
    """The commands of one report's transaction (the generation and the host's
    ``vm-resident-mib`` are its last two replies)."""
    name = report.host.name
    ttl_ms = max(1, round(report.ttl_s * 1000))
    commands: list[tuple[object, ...]] = [
        ("SADD", keys.hosts, name),
        ("SET", keys.report(name), encode_report(report)),
        ("SET", keys.alive(name), repr(report.collected_at), "PX", ttl_ms),
    ]
    if history_len > 0:
        samples = encode_samples(history_samples(report))
        commands.append(
            ("XADD", keys.history(name), "MAXLEN", history_len, "*",
             "t", repr(report.collected_at), "vms", samples)
        )  # fmt: skip
    commands.append(("INCR", keys.generation))
    commands.append(("HGETALL", keys.vm_resident(name)))
    return commands


def _transaction(client: redis.Redis, blocks: list[list[tuple[object, ...]]]) -> list[list[Any]]:
    """Every block's commands in one MULTI/EXEC of redis-py's pipeline (one write, one
    round trip; retried by the client on a dropped connection like its other commands);
    the replies split back by block."""
    with client.pipeline(transaction=True) as pipe:
        for block in blocks:
            for command in block:
                pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        replies: list[Any] = pipe.execute()
    out: list[list[Any]] = []
    at = 0
    for block in blocks:
        out.append(replies[at : at + len(block)])
        at += len(block)
    return out
