"""Affinity, anti-affinity and pin rules, indexed by VM for the filters and the planner.

Hard rules bind the filters; soft ones (``hard: false``) only weigh destinations (the
soft-rule weighers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from balancer.core.models import AffinityRule, AntiAffinityRule, PinRule, Rule


@dataclass(frozen=True)
class RuleIndex:
    #: VM -> the hosts it may run on (intersection of its hard pin rules).
    pins: dict[str, frozenset[str]] = field(default_factory=dict)
    #: VM -> the other VMs it must share a host with (hard affinity, transitive).
    together: dict[str, frozenset[str]] = field(default_factory=dict)
    #: VM -> the other VMs it must never share a host with (hard anti-affinity).
    apart: dict[str, frozenset[str]] = field(default_factory=dict)
    #: VM -> VMs it prefers to share a host with / stay away from (soft rules).
    prefer_together: dict[str, frozenset[str]] = field(default_factory=dict)
    prefer_apart: dict[str, frozenset[str]] = field(default_factory=dict)
    #: VM -> hosts it prefers to run on (the union of its soft pins).
    prefer_hosts: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def soft(self) -> bool:
        """Is there any soft rule?"""
        return bool(self.prefer_together or self.prefer_apart or self.prefer_hosts)

    def soft_vms(self) -> frozenset[str]:
        """The VMs some soft rule is about."""
        return frozenset(self.prefer_together) | set(self.prefer_apart) | set(self.prefer_hosts)

    @staticmethod
    def build(rules: tuple[Rule, ...]) -> RuleIndex:
        pins: dict[str, frozenset[str]] = {}
        soft_hosts: dict[str, set[str]] = {}
        apart: dict[str, set[str]] = {}
        soft_together: dict[str, set[str]] = {}
        soft_apart: dict[str, set[str]] = {}
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for rule in rules:
            if isinstance(rule, PinRule) and not rule.hard:
                soft_hosts.setdefault(rule.vm, set()).update(rule.hosts)
            elif isinstance(rule, PinRule):
                hosts = frozenset(rule.hosts)
                pins[rule.vm] = pins[rule.vm] & hosts if rule.vm in pins else hosts
            elif isinstance(rule, AffinityRule):
                if rule.hard:
                    for other in rule.vms[1:]:
                        parent[find(other)] = find(rule.vms[0])
                else:
                    _link(soft_together, rule.vms)
            elif isinstance(rule, AntiAffinityRule):
                _link(apart if rule.hard else soft_apart, rule.vms)
        groups: dict[str, set[str]] = {}
        for vm in parent:
            groups.setdefault(find(vm), set()).add(vm)
        together = {vm: frozenset(members - {vm}) for members in groups.values() for vm in members}
        return RuleIndex(
            pins=pins,
            together={k: v for k, v in together.items() if v},
            apart=_freeze(apart),
            prefer_together=_freeze(soft_together),
            prefer_apart=_freeze(soft_apart),
            prefer_hosts=_freeze(soft_hosts),
        )

    def group_of(self, vm: str) -> tuple[str, ...]:
        """The VM and every VM that must move with it, sorted."""
        return tuple(sorted({vm, *self.together.get(vm, ())}))


def _link(index: dict[str, set[str]], vms: tuple[str, ...]) -> None:
    for vm in vms:
        index.setdefault(vm, set()).update(v for v in vms if v != vm)


def _freeze(index: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    return {k: frozenset(v) for k, v in index.items() if v}
