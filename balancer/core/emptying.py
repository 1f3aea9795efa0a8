"""Hosts that must be emptied, and the VMs a plan leaves on them.

A host must be emptied when it is in maintenance or draining, or when the policy names it
in ``evacuate_hosts`` — whatever the plan's objective. A plan that leaves a VM on such a
host has not done what was asked of it, and says so (``balancer plan`` exits 3 and lists
those VMs): a script that powers a host down after a clean exit must never power it
down with VMs on it.
"""

from __future__ import annotations

from collections.abc import Collection

from balancer.core.models import EMPTYING_STATES, Policy, Snapshot
from balancer.core.plan import Plan, Unmovable

#: ``Unmovable.reason`` of a VM on a host to be emptied that the plan does not mention.
NOT_PLANNED = "not-planned"


def hosts_to_empty(snapshot: Snapshot, policy: Policy) -> frozenset[str]:
    """The policy's ``evacuate_hosts`` and every host in maintenance or draining."""
    named = frozenset(policy.evacuate_hosts)
    return named | {h.name for h in snapshot.hosts if h.state in EMPTYING_STATES}


def left_behind(
    snapshot: Snapshot,
    policy: Policy,
    plan: Plan,
    *,
    hosts: Collection[str] | None = None,
) -> tuple[Unmovable, ...]:
    """The VMs that stay on a host to be emptied (``hosts``; default
    ``hosts_to_empty``) once ``plan`` has run, each with the plan's reason, or
    ``not-planned`` when the plan does not say why."""
    emptied = hosts_to_empty(snapshot, policy) if hosts is None else frozenset(hosts)
    if not emptied:
        return ()
    moved = {m.vm for m in plan.moves}
    why = {u.vm: u for u in plan.unmovable}
    out: list[Unmovable] = []
    for vm in snapshot.vms:
        if vm.host in emptied and vm.name not in moved:
            out.append(
                why.get(vm.name)
                or Unmovable(
                    vm=vm.name,
                    host=vm.host,
                    reason=NOT_PLANNED,
                    detail=f"{vm.host} must be emptied, but this plan does not move it",
                )
            )
    return tuple(out)
