"""``Snapshot.from_redis``: one consistent snapshot of the whole cluster, read fast.

Consistent: one transaction (``raw_store``), so the snapshot is one generation
(``Snapshot.generation`` is the store's counter at that instant).

Fast: two round trips whatever the cluster size; each report is msgpack-decoded straight
into the snapshot's structs; the cyclic garbage collector is paused while millions of
objects are created (it would otherwise rescan them again and again and triple the time), and
those objects are then promoted to its oldest generation unscanned.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from operator import attrgetter
from typing import Any, TypeVar, cast

import msgspec
import redis

from balancer.core.models import Link, Policy, Snapshot
from balancer.errors import SnapshotError
from balancer.state.assemble import StoreContents, assemble_snapshot
from balancer.state.distrust import claims_by_record, implausible, quarantined
from balancer.state.keys import DEFAULT_KEYS, SCHEMA_VERSION, Keys
from balancer.state.overrides import (
    HostOverride,
    decode_labels,
    decode_override,
    decode_policy,
    decode_rule,
)
from balancer.state.power_records import decode_power
from balancer.state.raw_store import RawStore, read_raw, read_raw_as
from balancer.state.report import HostReport, ReportHead, decode_report, decode_report_head

__all__ = ["RawStore", "read_raw", "snapshot_from_redis"]

log = logging.getLogger(__name__)
_vm_host = attrgetter("host")


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


def _check_schema(raw: RawStore[Any]) -> None:
    if raw.schema is not None and raw.schema != str(SCHEMA_VERSION).encode():
        raise SnapshotError(
            f"the store uses state schema {raw.schema.decode(errors='replace')}, "
            f"this version reads {SCHEMA_VERSION}",
            "redis:schema",
        )


def head_or_why(blob: bytes | None) -> ReportHead | str | None:
    """A report's head, or why it does not decode (``None``: no report)."""
    if blob is None:
        return None
    try:
        return decode_report_head(blob)
    except msgspec.DecodeError as exc:
        return f"undecodable report ({exc})"


def checked_heads(
    names: Sequence[str], items: Sequence[ReportHead | str | None]
) -> list[ReportHead]:
    """The heads fit for a snapshot; the others are logged and left out."""
    heads: list[ReportHead] = []
    for name, head in zip(names, items, strict=True):
        if head is None:
            log.warning("host %s is registered but has no report; left out", name)
            continue
        if isinstance(head, str):
            log.warning("host %s: %s; left out", name, head)
            continue
        if head.schema != SCHEMA_VERSION or head.host.name != name:
            log.warning(
                "host %s: report of schema %s for host %r; left out",
                name,
                head.schema,
                head.host.name,
            )
            continue
        if head.vms and set(map(_vm_host, head.vms)) != {name}:
            log.warning("host %s: report lists VMs of another host; left out", name)
            continue
        why = implausible(head)
        if why is not None:
            log.warning("host %s: %s; marked failed, its VMs left out", name, why)
        heads.append(head if why is None else quarantined(head, why))
    return heads


def decode_heads(raw: RawStore[bytes | None]) -> list[ReportHead]:
    return checked_heads(raw.names, [head_or_why(blob) for blob in raw.reports])


def decode_reports(raw: RawStore[bytes | None]) -> list[HostReport]:
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


def alive_hosts(raw: RawStore[Any]) -> frozenset[str]:
    return frozenset(n for n, a in zip(raw.names, raw.alive, strict=True) if a is not None)


T = TypeVar("T")


def _skipping(
    decode: Callable[[bytes, str], T], items: dict[bytes, bytes], where: str
) -> dict[str, T]:
    """Each field decoded; one that does not decode is logged and left out (an operator
    fact that does not decode never fails every snapshot)."""
    out: dict[str, T] = {}
    for k, v in items.items():
        field = k.decode(errors="replace")
        try:
            out[field] = decode(v, f"{where}[{field}]")
        except SnapshotError as exc:
            log.error("%s; skipped", exc)
    return out


def _seconds(value: bytes, where: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise SnapshotError(f"not a number of seconds: {value!r}", where) from None
    return seconds


def decode_overrides(raw: RawStore[Any]) -> dict[str, HostOverride]:
    return _skipping(decode_override, raw.overrides, "redis:op:host-state")


def decode_contents(raw: RawStore[ReportHead | str | None]) -> StoreContents:
    _check_schema(raw)
    where = "redis:"
    rules = _skipping(decode_rule, raw.rules, f"{where}op:rules")
    return StoreContents(
        generation=raw.generation,
        reports=checked_heads(raw.names, raw.reports),
        alive=alive_hosts(raw),
        overrides=decode_overrides(raw),
        rules=[rules[k] for k in sorted(rules)],
        policy=Policy() if raw.policy is None else _policy(raw.policy),
        vm_labels=_skipping(decode_labels, raw.vm_labels, f"{where}op:vm-labels"),
        migrated_at=_skipping(_seconds, raw.migrated, f"{where}vm-migrated"),
        links=_links(raw.links),
        power=decode_power(raw.power),
    )


_link_decoder = msgspec.json.Decoder(Link)


def _links(stored: dict[bytes, bytes]) -> tuple[Link, ...]:
    """The measured links, by pair; an entry that does not decode is logged and left out
    (a measurement is an optimisation, not a fact a snapshot must have)."""
    out: list[Link] = []
    for field, blob in sorted(stored.items()):
        try:
            out.append(_link_decoder.decode(blob))
        except msgspec.DecodeError as exc:
            log.warning("links[%s]: %s; left out", field.decode(errors="replace"), exc)
    return tuple(out)


def cooldown_start(now: float) -> Callable[[bytes | None], float]:
    """The window of migrations a snapshot taken at ``now`` needs: the policy's cool-down
    (an older migration does not hold a VM back, the same as none)."""

    def since(policy: bytes | None) -> float:
        cooldown = Policy().cooldown_s if policy is None else _policy(policy).cooldown_s
        return now - cooldown

    return since


def _policy(blob: bytes) -> Policy:
    """The stored policy; one that does not decode is logged, and the defaults hold."""
    try:
        return decode_policy(blob, "redis:op:policy")
    except SnapshotError as exc:
        log.error("%s; the default policy holds", exc)
        return Policy()


def snapshot_from_redis(
    client: redis.Redis, *, keys: Keys = DEFAULT_KEYS, now: float | None = None
) -> Snapshot:
    """The named constructor ``Snapshot.from_redis``: one generation, stale hosts failed."""
    start = time.time() if now is None else now
    with _gc_paused():
        raw = read_raw_as(client, keys, head_or_why, cooldown_start(start))
        taken_at = time.time() if now is None else now
        contents = replace(decode_contents(raw), evidence=_records_of(client, keys))
        return assemble_snapshot(contents, taken_at=taken_at)


def _records_of(client: redis.Redis, keys: Keys) -> Callable[[frozenset[str]], dict[str, str]]:
    """Where the executor's records leave these VMs (asked only for VMs two hosts claim
    alike: one ``MGET`` of their last outcomes and the migrations under way, after the
    snapshot's transaction)."""

    def lookup(vms: frozenset[str]) -> dict[str, str]:
        names = sorted(vms)
        with client.pipeline(transaction=True) as pipe:
            pipe.mget([keys.outcome(v) for v in names])
            pipe.hvals(keys.running)
            outcomes, running = cast(tuple[list[bytes | None], list[bytes]], pipe.execute())
        return claims_by_record(dict(zip(names, outcomes, strict=True)), running)

    return lookup
