"""``Snapshot.from_redis``: one consistent snapshot of the whole cluster, read fast.

Consistent: the host list is read under WATCH, then every report, heartbeat and operator
fact in one MULTI/EXEC, which Redis runs without interleaving any agent's write; so the
snapshot is one generation (``Snapshot.generation`` is the store's counter at that
instant). A host registering in between aborts the transaction and the read is retried.

Fast: two round trips whatever the cluster size; reports are msgpack decoded straight
into the snapshot's structs, with the cyclic garbage collector paused while millions of
objects are created (it would otherwise rescan them again and again and triple the
time), and those objects then promoted to its oldest generation unscanned.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import msgspec
import redis

from balancer.core.models import Policy, Snapshot
from balancer.errors import RetryableError, SnapshotError
from balancer.state.assemble import StoreContents, assemble_snapshot
from balancer.state.keys import DEFAULT_KEYS, SCHEMA_VERSION, Keys
from balancer.state.overrides import (
    HostOverride,
    decode_labels,
    decode_override,
    decode_policy,
    decode_rule,
)
from balancer.state.report import HostReport, ReportHead, decode_report, decode_report_head

log = logging.getLogger(__name__)

_ATTEMPTS = 5


@dataclass(frozen=True)
class RawStore:
    """The store's bytes as one transaction returned them."""

    schema: bytes | None
    generation: int
    names: tuple[str, ...]
    reports: tuple[bytes | None, ...]
    alive: tuple[bytes | None, ...]
    overrides: dict[bytes, bytes]
    rules: dict[bytes, bytes]
    policy: bytes | None
    vm_labels: dict[bytes, bytes]
    migrated_at: dict[bytes, bytes]


def read_raw(client: redis.Redis, keys: Keys = DEFAULT_KEYS) -> RawStore:
    """Everything in two round trips, the second one atomic; retried if a host registers."""
    for _ in range(_ATTEMPTS):
        with client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(keys.hosts)  # type: ignore[no-untyped-call]
                names = tuple(sorted(_text(n) for n in pipe.smembers(keys.hosts)))
                pipe.multi()
                pipe.get(keys.schema)
                pipe.get(keys.generation)
                pipe.hgetall(keys.host_state)
                pipe.hgetall(keys.rules)
                pipe.get(keys.policy)
                pipe.hgetall(keys.vm_labels)
                pipe.hgetall(keys.vm_migrated_at)
                if names:
                    pipe.mget([keys.report(n) for n in names])
                    pipe.mget([keys.alive(n) for n in names])
                results = pipe.execute()
            except redis.WatchError:
                continue
        schema, gen, over, rules, policy, labels, moved = results[:7]
        reports, alive = (results[7], results[8]) if names else ([], [])
        return RawStore(
            schema=schema,
            generation=int(gen or 0),
            names=names,
            reports=tuple(reports),
            alive=tuple(alive),
            overrides=over,
            rules=rules,
            policy=policy,
            vm_labels=labels,
            migrated_at=moved,
        )
    raise RetryableError(f"hosts kept registering during {_ATTEMPTS} snapshot reads; try again")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of (acyclic) objects are made,
    then promote them to the oldest generation (``gc.freeze`` + ``gc.unfreeze``: a list
    splice, no scan) so the next young collection does not scan them all either. Skipped
    when someone froze objects on purpose (a pre-fork server): theirs stay frozen."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def _check_schema(raw: RawStore) -> None:
    if raw.schema is not None and raw.schema != str(SCHEMA_VERSION).encode():
        raise SnapshotError(
            f"the store uses state schema {raw.schema.decode(errors='replace')}, "
            f"this version reads {SCHEMA_VERSION}",
            "redis:schema",
        )


def decode_heads(raw: RawStore) -> list[ReportHead]:
    heads: list[ReportHead] = []
    for name, blob in zip(raw.names, raw.reports, strict=True):
        if blob is None:
            log.warning("host %s is registered but has no report; left out", name)
            continue
        try:
            head = decode_report_head(blob)
        except msgspec.DecodeError as exc:
            log.warning("host %s: undecodable report (%s); left out", name, exc)
            continue
        if head.schema != SCHEMA_VERSION or head.host.name != name:
            log.warning(
                "host %s: report of schema %s for host %r; left out",
                name,
                head.schema,
                head.host.name,
            )
            continue
        if any(vm.host != name for vm in head.vms):
            log.warning("host %s: report lists VMs of another host; left out", name)
            continue
        heads.append(head)
    return heads


def decode_reports(raw: RawStore) -> list[HostReport]:
    """The full reports (for listings), skipping the undecodable ones like ``decode_heads``."""
    _check_schema(raw)
    out: list[HostReport] = []
    with _gc_paused():
        for name, blob in zip(raw.names, raw.reports, strict=True):
            if blob is None:
                continue
            try:
                out.append(decode_report(blob))
            except msgspec.DecodeError as exc:
                log.warning("host %s: undecodable report (%s); left out", name, exc)
    return out


def alive_hosts(raw: RawStore) -> frozenset[str]:
    return frozenset(n for n, a in zip(raw.names, raw.alive, strict=True) if a is not None)


def _seconds(value: bytes, where: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise SnapshotError(f"not a number of seconds: {value!r}", where) from None


def decode_overrides(raw: RawStore) -> dict[str, HostOverride]:
    return {
        k.decode(): decode_override(v, f"redis:op:host-state[{k.decode()}]")
        for k, v in raw.overrides.items()
    }


def decode_contents(raw: RawStore) -> StoreContents:
    _check_schema(raw)
    where = "redis:"
    return StoreContents(
        generation=raw.generation,
        reports=decode_heads(raw),
        alive=alive_hosts(raw),
        overrides=decode_overrides(raw),
        rules=[
            decode_rule(raw.rules[k], f"{where}op:rules[{k.decode()}]") for k in sorted(raw.rules)
        ],
        policy=Policy() if raw.policy is None else decode_policy(raw.policy, f"{where}op:policy"),
        vm_labels={
            k.decode(): decode_labels(v, f"{where}op:vm-labels[{k.decode()}]")
            for k, v in raw.vm_labels.items()
        },
        migrated_at={
            k.decode(): _seconds(v, f"{where}vm-migrated-at[{k.decode()}]")
            for k, v in raw.migrated_at.items()
        },
    )


def snapshot_from_redis(
    client: redis.Redis, *, keys: Keys = DEFAULT_KEYS, now: float | None = None
) -> Snapshot:
    """The named constructor ``Snapshot.from_redis``: one generation, stale hosts failed."""
    raw = read_raw(client, keys)
    taken_at = time.time() if now is None else now
    with _gc_paused():
        return assemble_snapshot(decode_contents(raw), taken_at=taken_at)
