"""A snapshot narrowed to some hosts and their VMs, so a planning run works on tens of
hosts rather than the whole fleet (rules survive only when every VM they name does)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import msgspec

from balancer.core.models import AffinityRule, AntiAffinityRule, Host, Rule, Snapshot


def restrict(
    snapshot: Snapshot,
    hosts: Collection[str],
    *,
    replace_hosts: Mapping[str, Host] | None = None,
) -> Snapshot:
    """The snapshot with only ``hosts`` and their VMs; ``replace_hosts`` swaps in other
    versions of some of them (a powered-off host presented as on, say)."""
    keep = set(hosts)
    swap = replace_hosts or {}
    host_list = tuple(swap.get(h.name, h) for h in snapshot.hosts if h.name in keep)
    vms = tuple(v for v in snapshot.vms if v.host in keep)
    names = {v.name for v in vms}
    rules = tuple(r for r in (_rule_within(r, names, keep) for r in snapshot.rules) if r)
    return msgspec.structs.replace(snapshot, hosts=host_list, vms=vms, rules=rules)


def _rule_within(rule: Rule, vms: set[str], hosts: set[str]) -> Rule | None:
    if isinstance(rule, AffinityRule | AntiAffinityRule):
        return rule if all(v in vms for v in rule.vms) else None
    if rule.vm not in vms:
        return None
    return msgspec.structs.replace(rule, hosts=tuple(h for h in rule.hosts if h in hosts))
