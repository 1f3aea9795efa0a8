"""Evacuate: the VMs of the hosts in maintenance or draining, and of the hosts named by a
running evacuation (or the snapshot policy's ``evacuate_hosts``), leave, first of all
intents (cool-downs do not hold them back).

One ``plan(evacuate)`` on the whole snapshot: the planner picks the emptiest host that
fits each VM, makes room, or powers on an off host (those the power rules allow).
"""

from __future__ import annotations

import msgspec

from balancer.control.intents import Intents
from balancer.control.proposal import Proposal
from balancer.control.scope import Scope
from balancer.core.models import EMPTYING_STATES
from balancer.core.planner import plan


def evacuating(scope: Scope, intents: Intents) -> list[str]:
    """Hosts to empty now (in the snapshot's order): they hold a VM and are not held.
    The snapshot policy's ``evacuate_hosts`` count as named too."""
    named = {e.host for e in intents.running_evacuations()}
    named |= set(scope.snapshot.policy.evacuate_hosts)
    return [
        h.name
        for h in scope.snapshot.hosts
        if (h.state in EMPTYING_STATES or h.name in named)
        and h.name not in scope.closed
        and h.name in scope.holding
    ]


def evacuate(scope: Scope, hosts: list[str]) -> Proposal:
    snapshot = scope.snapshot
    # The policy's own evacuate_hosts stay evacuated (and never receive), held or empty.
    named = tuple(hosts) + tuple(h for h in snapshot.policy.evacuate_hosts if h not in hosts)
    policy = msgspec.structs.replace(snapshot.policy, objective="evacuate", evacuate_hosts=named)
    no_power = {h.name for h in snapshot.hosts if h.state == "off" and h.name not in scope.can_on}
    result = plan(snapshot, policy, fixed=scope.fixed, closed=scope.closed | no_power)
    leaving = set(hosts)
    moved = len(result.moves)
    stuck = [u for u in result.unmovable if u.host in leaving]
    summary = f"evacuate {', '.join(hosts[:5])}: {moved} move(s)"
    if stuck:
        summary += f", {len(stuck)} VM(s) cannot move"
    proposal = Proposal.of_plan("evacuation", result, summary, 1)
    return Proposal(
        intent="evacuation",
        moves=proposal.moves,
        power=proposal.power,
        unmovable=tuple(stuck),
        summary=summary,
        plans_computed=1,
    )
