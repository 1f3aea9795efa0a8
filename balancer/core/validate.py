"""Consistency checks a snapshot's types cannot express: names unique, references known.

``check(snapshot)`` raises ``SnapshotError`` naming the first offending field path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from balancer.core.models import (
    EMPTYING_STATES,
    AffinityRule,
    AntiAffinityRule,
    PinRule,
    Policy,
    Snapshot,
)
from balancer.errors import SnapshotError

POWER_TABLE_POINTS = 11


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
    for i, rule in enumerate(snapshot.rules):
        if isinstance(rule, AffinityRule | AntiAffinityRule):
            if len(rule.vms) < 2:
                raise SnapshotError("a rule needs at least two VMs", f"rules[{i}].vms")
            for j, name in enumerate(rule.vms):
                if name not in vms:
                    raise SnapshotError(f"unknown VM {name!r}", f"rules[{i}].vms[{j}]")
        elif isinstance(rule, PinRule):
            if rule.vm not in vms:
                raise SnapshotError(f"unknown VM {rule.vm!r}", f"rules[{i}].vm")
            for j, name in enumerate(rule.hosts):
                if name not in hosts:
                    raise SnapshotError(f"unknown host {name!r}", f"rules[{i}].hosts[{j}]")
    check_policy(snapshot, snapshot.policy, "policy")


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
