"""The snapshot a decision hands to ``plan()``: narrowed to the hosts it concerns, so the
planner works on tens of hosts rather than the whole fleet (rules survive only when
every VM they name does), under the decision's policy."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import msgspec

from balancer.core.models import AffinityRule, AntiAffinityRule, Host, Policy, Rule, Snapshot


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


def under(view: Snapshot, policy: Policy, memory_headroom: float) -> Snapshot:
    """``view`` under ``policy``, keeping ``memory_headroom`` of each host's memory free
    where the planner would keep ``policy.headroom``: memory is allocated to VMs, it does
    not burst the way CPU does, so it needs no CPU-sized margin. Each host's memory is
    scaled for the planner's arithmetic (rounded up: sums of whole MiB still fit)."""
    scale = (1.0 - memory_headroom) / (1.0 - policy.headroom)
    if policy.capacity_mode == "cpu-only" or math.isclose(scale, 1.0):
        return msgspec.structs.replace(view, policy=policy)
    hosts = tuple(
        msgspec.structs.replace(h, memory_mib=math.ceil(h.memory_mib * scale)) for h in view.hosts
    )
    return msgspec.structs.replace(view, hosts=hosts, policy=policy)
