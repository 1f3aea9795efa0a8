"""From what the store holds to one snapshot: a pure function (no Redis, no clock).

Host state, strongest first:

1. an operator's ``off`` (a powered-off host is silent; its VMs are shut off);
2. the balancer powered it off or on and its agent has not reported since
   (``balancer.state.power_records``): ``off``, reason ``powered-off`` or ``booting`` —
   a candidate for power-on, not a failure; but a host an operator put in
   ``maintenance`` or ``draining`` keeps that state (with the power record's reason):
   the planner never powers it on to place VMs there;
3. a heartbeat that expired: ``failed``, reason ``stale`` (never receives VMs);
4. an operator's ``maintenance``, ``draining`` or ``failed``;
5. the state the agent reported (``active``).

The reason is the host's ``state_reason``. A VM name reported by
two hosts (a migration that left the source definition behind) is kept once: running over
paused over shut off (a VM of a host switched off counts as shut off), then a live host
over a stale one, then the host the executor's records name (the source of a migration
under way, else where its last migration left it); with
no such record every host claiming it is marked failed (``balancer.state.distrust``) —
never the order of the keys or the reports' own clocks. A VM whose migration ended after
both hosts last reported (the source still lists it, the destination not yet) is where
the executor's record leaves it: the loop must not send the same move again. Rules
and the policy may name VMs or hosts that are gone; those names are dropped (a rule left
with fewer than two VMs, or a pin of an unknown VM, goes too) so the snapshot stays
consistent; a pin keeps only known hosts, and with none it keeps the VM where it is. A
policy whose objective is to evacuate when no host is (its ``evacuate_hosts`` are gone, its
maintenance is over) plans to balance: a stored value never makes the store unreadable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Protocol

import msgspec

from balancer.core.models import (
    EMPTYING_STATES,
    AffinityRule,
    AntiAffinityRule,
    Host,
    Link,
    PinRule,
    Policy,
    Rule,
    Snapshot,
    Vm,
)
from balancer.core.validate import check
from balancer.state.distrust import CONFLICT
from balancer.state.overrides import STALE, HostOverride
from balancer.state.power_records import PowerRecord, power_state
from balancer.state.report import ReportHead

log = logging.getLogger(__name__)

_VM_STATE_RANK = {"running": 2, "paused": 1, "shutoff": 0}
_name = attrgetter("name")


@dataclass(frozen=True)
class StoreContents:
    """Everything a snapshot is made of, decoded, as read in one transaction."""

    generation: int
    reports: Sequence[ReportHead]
    #: Hosts whose heartbeat key exists.
    alive: frozenset[str]
    overrides: Mapping[str, HostOverride] = field(default_factory=dict)
    rules: Sequence[Rule] = ()
    policy: Policy = field(default_factory=Policy)
    vm_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: VM → when it last migrated, for the VMs that did within the policy's cool-down.
    migrated_at: Mapping[str, float] = field(default_factory=dict)
    #: Measured migration bandwidth per host pair.
    links: Sequence[Link] = ()
    #: Host → what the balancer last did to its power.
    power: Mapping[str, PowerRecord] = field(default_factory=dict)
    #: VM names → the host each one's last migration left it on (the executor's
    #: records), asked only for VMs two hosts claim alike (``distrust.claims_by_record``).
    evidence: Callable[[frozenset[str]], Mapping[str, str]] = lambda _vms: {}


class Reported(Protocol):
    """What ``host_state`` reads of a report's host (a ``Host``, or a leaner decoding)."""

    @property
    def state(self) -> str: ...


def host_state(
    host: Reported,
    alive: bool,
    override: HostOverride | None,
    power: tuple[str, str] | None = None,
) -> tuple[str, str]:
    """The host's state in the snapshot and why it differs from the report ('' if not);
    ``power``: what a power record says (``power_records.power_state``)."""
    if override is not None and override.state == "off":
        return "off", override.reason or "operator"
    if power is not None:
        if override is not None and override.state in ("maintenance", "draining"):
            return override.state, power[1]
        return power
    if not alive:
        return "failed", STALE
    if override is not None:
        return override.state, override.reason or "operator"
    return host.state, ""


def _host(head: ReportHead, contents: StoreContents) -> Host:
    h = head.host
    alive = h.name in contents.alive
    power = power_state(contents.power.get(h.name), head.collected_at, alive)
    state, why = host_state(h, alive, contents.overrides.get(h.name), power)
    if state == h.state and why == h.state_reason:
        return h
    return msgspec.structs.replace(h, state=state, state_reason=why)


def _vm_rank(vm: Vm, alive: bool) -> tuple[int, bool]:
    return (_VM_STATE_RANK[vm.state], alive)


def _unique_vms(
    contents: StoreContents, per_head: Sequence[tuple[Vm, ...]]
) -> tuple[list[Vm], set[str], dict[str, str]]:
    """Every VM once (``per_head``: each report's VMs), the set of their names, and the
    hosts that claim a VM another host claims alike with no evidence for either (host →
    why: they are marked failed)."""
    vms = list(chain.from_iterable(per_head))
    names = set(map(_name, vms))
    if len(names) == len(vms):  # the usual case, checked fast
        return vms, names, {}
    claims: dict[str, list[tuple[tuple[int, bool], Vm]]] = {}
    for head, head_vms in zip(contents.reports, per_head, strict=True):
        alive = head.host.name in contents.alive
        for vm in head_vms:
            claims.setdefault(vm.name, []).append((_vm_rank(vm, alive), vm))
    tied = frozenset(n for n, c in claims.items() if len(c) > 1 and _tied(c))
    evidence = contents.evidence(tied) if tied else {}
    out: list[Vm] = []
    conflicts: dict[str, str] = {}
    for name, claim in claims.items():
        if len(claim) == 1:
            out.append(claim[0][1])
            continue
        top = max(rank for rank, _ in claim)
        best = sorted((vm for rank, vm in claim if rank == top), key=attrgetter("host"))
        hosts = [vm.host for _, vm in claim]
        chosen = next((vm for vm in best if vm.host == evidence.get(name)), None)
        if chosen is None and len(best) > 1:
            why = f"{CONFLICT}: VM {name} is also reported by "
            for vm in best:
                others = ", ".join(h for h in hosts if h != vm.host)
                conflicts.setdefault(vm.host, why + others)
            log.warning("VM %s reported alike by %s and the executor's records name none of "
                        "them: those hosts are marked failed", name, ", ".join(hosts))  # fmt: skip
        winner = chosen or best[0]
        log.info("VM %s reported by %s: keeping %s", name, ", ".join(hosts), winner.host)
        out.append(winner)
    return out, names, conflicts


def _tied(claim: list[tuple[tuple[int, bool], Vm]]) -> bool:
    top = max(rank for rank, _ in claim)
    return sum(rank == top for rank, _ in claim) > 1


def _vm(vm: Vm, off_hosts: set[str], contents: StoreContents) -> Vm:
    changes: dict[str, object] = {}
    if vm.host in off_hosts and vm.state != "shutoff":
        changes["state"] = "shutoff"
    labels = contents.vm_labels.get(vm.name)
    if labels:
        changes["labels"] = {**vm.labels, **labels}
    migrated = contents.migrated_at.get(vm.name)
    if migrated is not None and migrated != vm.last_migrated_at:
        changes["last_migrated_at"] = migrated
    return msgspec.structs.replace(vm, **changes) if changes else vm


def _with_facts(
    contents: StoreContents, off_hosts: set[str]
) -> tuple[list[tuple[Vm, ...]], dict[str, int]]:
    """Each report's VMs with the store's facts applied, and the VMs whose last migration
    ended after the report listing them was collected (name → the report's index); only
    the reports something applies to are rebuilt, and in them only the VMs named (a full
    pass calling ``_vm`` on every one of 400,000 VMs costs 0.1 s and more)."""
    migrated = contents.migrated_at
    touched = contents.vm_labels.keys() | migrated.keys()
    out: list[tuple[Vm, ...]] = []
    late: dict[str, int] = {}
    for i, head in enumerate(contents.reports):
        vms = head.vms
        if head.host.name in off_hosts:
            vms = tuple(_vm(vm, off_hosts, contents) for vm in vms)
        elif not touched.isdisjoint(map(_name, vms)):
            vms = tuple(_vm(vm, off_hosts, contents) if vm.name in touched else vm for vm in vms)
            late.update(
                (vm.name, i) for vm in vms if migrated.get(vm.name, -1.0) > head.collected_at
            )
        out.append(vms)
    return out, late


def _after_migrations(
    contents: StoreContents, per_head: list[tuple[Vm, ...]], late: Mapping[str, int]
) -> list[tuple[Vm, ...]]:
    """A report collected before a VM's migration ended still lists it on the source,
    and the destination's report, if collected before too, does not list it yet: the VM
    is where the executor's records leave it (``evidence``), or the loop would send the
    same move again. A destination whose report is newer than the migration has the last
    word (listing the VM, it wins as a claim below; not listing it, the VM left or was
    removed since), and a record that names no reporting host moves nothing."""
    if not late:
        return per_head
    where = contents.evidence(frozenset(late))
    index = {head.host.name: i for i, head in enumerate(contents.reports)}
    out = list(per_head)
    for name, i in late.items():
        j = index.get(where.get(name, ""))
        if j is None or j == i or contents.reports[j].collected_at >= contents.migrated_at[name]:
            continue
        if any(vm.name == name for vm in out[j]):
            continue  # both list it: a claim decided below
        moved = [vm for vm in out[i] if vm.name == name]
        out[i] = tuple(vm for vm in out[i] if vm.name != name)
        dest = contents.reports[j].host.name
        out[j] = (*out[j], *(msgspec.structs.replace(vm, host=dest) for vm in moved))
        log.info("VM %s: its migration to %s ended after the last reports of %s and %s",
                 name, dest, contents.reports[i].host.name, dest)  # fmt: skip
    return out


def _rules(
    rules: Sequence[Rule], vms: set[str], hosts: set[str], placed: Sequence[Vm]
) -> tuple[Rule, ...]:
    kept: list[Rule] = []
    for rule in rules:
        if isinstance(rule, AffinityRule | AntiAffinityRule):
            members = tuple(v for v in rule.vms if v in vms)
            if len(members) >= 2:
                kept.append(msgspec.structs.replace(rule, vms=members))
                continue
        elif isinstance(rule, PinRule) and rule.vm in vms:
            allowed = tuple(h for h in rule.hosts if h in hosts)
            if not allowed:  # none of its hosts is known: the VM stays where it is
                allowed = tuple(v.host for v in placed if v.name == rule.vm)
            if allowed != rule.hosts:
                log.warning("pin rule for %s names unknown hosts; keeping %s", rule.vm, allowed)
            kept.append(msgspec.structs.replace(rule, hosts=allowed))
            continue
        log.info("dropping a rule about VMs that are gone: %s", rule)
    return tuple(kept)


def assemble_snapshot(contents: StoreContents, *, taken_at: float) -> Snapshot:
    """One consistent v1 snapshot; raises ``SnapshotError`` if operator facts contradict."""
    hosts = tuple(_host(head, contents) for head in contents.reports)
    off_hosts = {h.name for h in hosts if h.state == "off"}
    per_head, late = _with_facts(contents, off_hosts)
    per_head = _after_migrations(contents, per_head, late)
    unique, vm_names, conflicts = _unique_vms(contents, per_head)
    if conflicts:
        hosts = tuple(
            msgspec.structs.replace(h, state="failed", state_reason=conflicts[h.name])
            if h.name in conflicts and h.state != "off" else h
            for h in hosts
        )  # fmt: skip
    vms = tuple(unique)
    host_names = {h.name for h in hosts}
    policy = contents.policy
    evacuate = tuple(h for h in policy.evacuate_hosts if h in host_names)
    if evacuate != policy.evacuate_hosts:
        policy = msgspec.structs.replace(policy, evacuate_hosts=evacuate)
    if (
        policy.objective == "evacuate"
        and not evacuate
        and EMPTYING_STATES.isdisjoint(h.state for h in hosts)
    ):
        log.warning("the policy's objective is to evacuate, but no host is: planning to balance")
        policy = msgspec.structs.replace(policy, objective="balance")
    snapshot = Snapshot(
        version=1,
        taken_at=taken_at,
        generation=contents.generation,
        hosts=hosts,
        vms=vms,
        rules=_rules(contents.rules, vm_names, host_names, vms),
        policy=policy,
        links=tuple(
            link for link in contents.links if link.source in host_names and link.dest in host_names
        ),
    )
    check(snapshot)
    return snapshot
