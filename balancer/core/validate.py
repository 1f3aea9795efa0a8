"""What a snapshot's types cannot express, checked once for every reader and writer:
names unique and printable, references known, rules that can all hold at once, a policy
that fits the snapshot it plans.

- ``check(snapshot)`` — a snapshot document (``snapshot validate``, ``plan``,
  ``execute``) and every snapshot read from the store;
- ``check_rules(rules)`` — the rules of a snapshot, and the rules an operator stores
  (``balancer rules put``): contradictions, empty pins, rules of one VM;
- ``check_policy(snapshot, policy)`` — a policy against the snapshot it plans (also the
  CLI's overrides, and ``balancer policy set`` against the store);
- ``bounded(policy)`` — a policy built in code (``msgspec.structs.replace`` checks
  nothing) held to the same bounds as a decoded one;
- ``name_problem(name)`` — why a name cannot be used (empty, too long, control
  characters), for names given on the command line;
- ``check_names(snapshot)`` — the same for every host and VM name of a document;
- ``plan_problems(snapshot, plan)`` — why a plan from elsewhere cannot run on the
  snapshot (``balancer execute`` checks it before queueing anything).

Each raises ``SnapshotError`` naming the first offending field path. Bounds on numbers
are in the models (``balancer.core.models``: ``MAX_COUNT``, ``MAX_MIB``...), checked
when a document is decoded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import msgspec

from balancer.core.models import (
    EMPTYING_STATES,
    MAX_NAME,
    AffinityRule,
    AntiAffinityRule,
    PinRule,
    Policy,
    Rule,
    Snapshot,
)
from balancer.core.plan import Plan
from balancer.core.rules import RuleIndex
from balancer.errors import SnapshotError

POWER_TABLE_POINTS = 11
#: C0 and C1 control characters and DEL: they move a terminal's cursor, change its
#: colours or start escape sequences when printed.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a host, VM or rule; ``None`` when it can."""
    if not name:
        return "a name cannot be empty"
    if len(name) > MAX_NAME:
        return f"a name is at most {MAX_NAME} characters, not {len(name)}"
    bad = CONTROL.search(name)
    if bad is not None:
        return f"{name!r} contains the control character {bad.group()!r}"
    return None


def check_names(snapshot: Snapshot) -> None:
    """Every host and VM name printable (one search over them all, then the culprit)."""
    groups = (("hosts", [h.name for h in snapshot.hosts]), ("vms", [v.name for v in snapshot.vms]))
    if CONTROL.search(" ".join(groups[0][1] + groups[1][1])) is None:
        return
    for path, names in groups:
        for i, name in enumerate(names):
            problem = name_problem(name)
            if problem is not None:
                raise SnapshotError(problem, f"{path}[{i}].name")


def _unique(names: Sequence[str], what: str, path: str) -> set[str]:
    seen = set(names)
    if len(seen) == len(names):  # the usual case, without a Python-level loop
        return seen
    seen = set()
    for i, name in enumerate(names):
        if name in seen:
            raise SnapshotError(f"duplicate {what} name {name!r}", f"{path}[{i}].name")
        seen.add(name)
    return seen


def _check_vm_hosts(snapshot: Snapshot, hosts: set[str], state: Mapping[str, str]) -> None:
    for i, v in enumerate(snapshot.vms):
        if v.host not in hosts:
            raise SnapshotError(f"unknown host {v.host!r}", f"vms[{i}].host")
        if state[v.host] == "off" and v.state != "shutoff":
            raise SnapshotError(f"VM is {v.state} on host {v.host!r}, which is off", f"vms[{i}]")


def check(snapshot: Snapshot) -> None:
    hosts = _unique([h.name for h in snapshot.hosts], "host", "hosts")
    vms = _unique([v.name for v in snapshot.vms], "VM", "vms")
    state = {h.name: h.state for h in snapshot.hosts}
    off = {name for name, s in state.items() if s == "off"}
    for i, h in enumerate(snapshot.hosts):
        p = h.power
        if p is None:
            continue
        if p.table_w is not None and len(p.table_w) != POWER_TABLE_POINTS:
            raise SnapshotError(
                f"needs {POWER_TABLE_POINTS} values (0, 10, ..., 100 % CPU), got {len(p.table_w)}",
                f"hosts[{i}].power.table_w",
            )
        if p.table_w is None and (p.idle_w is None or p.max_w is None):
            raise SnapshotError("give idle_w and max_w, or table_w", f"hosts[{i}].power")
        if p.idle_w is not None and p.max_w is not None and p.idle_w > p.max_w:
            raise SnapshotError("idle_w is larger than max_w", f"hosts[{i}].power")
    vm_hosts = {v.host for v in snapshot.vms}
    if not vm_hosts <= hosts or not vm_hosts.isdisjoint(off):
        _check_vm_hosts(snapshot, hosts, state)
    check_rules(snapshot.rules, vms=vms, hosts=hosts)
    check_policy(snapshot, snapshot.policy, "policy")


def check_rules(
    rules: Sequence[Rule],
    *,
    vms: set[str] | None = None,
    hosts: set[str] | None = None,
    paths: Sequence[str] | None = None,
) -> None:
    """Rules that can all hold at once, about known VMs and hosts (``None``: any name).
    ``paths`` names each rule in messages (default ``rules[i]``; the store: its id)."""
    where = list(paths) if paths is not None else [f"rules[{i}]" for i in range(len(rules))]
    for rule, path in zip(rules, where, strict=True):
        if isinstance(rule, AffinityRule | AntiAffinityRule):
            if len(set(rule.vms)) < 2:
                raise SnapshotError("a rule needs at least two VMs", f"{path}.vms")
            for j, name in enumerate(rule.vms):
                if vms is not None and name not in vms:
                    raise SnapshotError(f"unknown VM {name!r}", f"{path}.vms[{j}]")
        elif isinstance(rule, PinRule):
            if vms is not None and rule.vm not in vms:
                raise SnapshotError(f"unknown VM {rule.vm!r}", f"{path}.vm")
            if not rule.hosts:
                raise SnapshotError("a pin needs at least one host", f"{path}.hosts")
            for j, name in enumerate(rule.hosts):
                if hosts is not None and name not in hosts:
                    raise SnapshotError(f"unknown host {name!r}", f"{path}.hosts[{j}]")
    if len(rules) > 1:
        _check_together(rules, where)


def _check_together(rules: Sequence[Rule], where: Sequence[str]) -> None:
    """No two VMs both bound together and kept apart (hard rules); every group of VMs
    bound together left at least one host by their pins."""
    index = RuleIndex.build(tuple(rules))
    for vm in sorted(index.apart):
        clash = sorted(index.apart[vm] & index.together.get(vm, frozenset()))
        if clash:
            a = _path_of(rules, where, AntiAffinityRule, {vm, clash[0]})
            raise SnapshotError(
                f"{vm} and {clash[0]} must share a host (hard affinity) and must not "
                "(hard anti-affinity): the rules contradict each other",
                a,
            )
    for vm, pinned in sorted(index.pins.items()):
        allowed = pinned
        for other in sorted(index.together.get(vm, ())):
            allowed = allowed & index.pins.get(other, allowed)
        if not allowed:
            group = ", ".join(index.group_of(vm))
            raise SnapshotError(
                f"the pins of {group} leave no host they may run on together",
                _path_of(rules, where, PinRule, {vm}),
            )


def _path_of(rules: Sequence[Rule], where: Sequence[str], kind: type[Rule], names: set[str]) -> str:
    """The path of the first rule of ``kind`` about every VM of ``names``."""
    for rule, path in zip(rules, where, strict=True):
        if isinstance(rule, kind):
            members = {rule.vm} if isinstance(rule, PinRule) else set(rule.vms)
            if names <= members:
                return path
    return "rules"


def check_policy(snapshot: Snapshot, policy: Policy, path: str = "policy") -> None:
    """Check a policy against the snapshot it will plan (also for CLI overrides)."""
    hosts = {h.name: h for h in snapshot.hosts}
    for j, name in enumerate(policy.evacuate_hosts):
        if name not in hosts:
            raise SnapshotError(f"unknown host {name!r}", f"{path}.evacuate_hosts[{j}]")
    if policy.objective == "evacuate" and not (
        policy.evacuate_hosts or any(h.state in EMPTYING_STATES for h in snapshot.hosts)
    ):
        raise SnapshotError(
            "objective 'evacuate' needs hosts to evacuate (evacuate_hosts, or hosts in "
            "maintenance or draining)",
            f"{path}.evacuate_hosts",
        )


def bounded(policy: Policy, path: str = "policy") -> Policy:
    """``policy`` checked against the models' bounds and types, as if decoded."""
    try:
        return msgspec.convert(msgspec.to_builtins(policy), Policy)
    except msgspec.ValidationError as exc:
        text = str(exc)
        msg, _, at = text.partition(" - at `$")
        field = at.rstrip("`").lstrip(".")
        raise SnapshotError(msg, f"{path}.{field}" if field else path) from None


def names_in(rules: Iterable[Rule]) -> tuple[set[str], set[str]]:
    """The VM and host names that ``rules`` mention."""
    vms: set[str] = set()
    hosts: set[str] = set()
    for rule in rules:
        if isinstance(rule, PinRule):
            vms.add(rule.vm)
            hosts.update(rule.hosts)
        else:
            vms.update(rule.vms)
    return vms, hosts


def plan_problems(snapshot: Snapshot, plan: Plan) -> list[str]:
    """Why ``plan`` cannot run on ``snapshot`` (empty: it can): made from another
    generation, names unknown VMs or hosts, moves a VM twice, or breaks a filter, a slot
    or a capacity when replayed wave by wave (``balancer.core.verify``)."""
    from balancer.core.compose import composition_policy  # noqa: PLC0415
    from balancer.core.verify import violations  # noqa: PLC0415

    problems: list[str] = []
    if plan.generation != snapshot.generation:
        problems.append(
            f"the plan was made from generation {plan.generation}, the snapshot "
            f"is generation {snapshot.generation}"
        )
    vms = {v.name for v in snapshot.vms}
    hosts = {h.name for h in snapshot.hosts}
    seen: set[str] = set()
    for i, m in enumerate(plan.moves):
        if m.vm not in vms:
            problems.append(f"moves[{i}]: unknown VM {m.vm!r}")
        if m.vm in seen:
            problems.append(f"moves[{i}]: {m.vm} is moved twice")
        seen.add(m.vm)
        for host in (m.source, m.to):
            if host not in hosts:
                problems.append(f"moves[{i}]: unknown host {host!r}")
    for i, a in enumerate(plan.power):
        if a.host not in hosts:
            problems.append(f"power[{i}]: unknown host {a.host!r}")
    if problems:
        return problems
    return violations(snapshot, composition_policy(snapshot.policy), plan)
