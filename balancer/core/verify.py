"""Check a plan against its snapshot by replaying it wave by wave.

Used by the tests (every generated plan must pass) and usable before executing a plan
from elsewhere: the VM is where the move says, every filter accepts the destination at
that point of the plan, no wave exceeds its slots, no destination ends over capacity,
power-offs only hit empty hosts and power-ons only hosts that were off.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import msgspec

from balancer.core.cluster import ClusterState
from balancer.core.filters import REGISTRY, Constraint, FilterContext
from balancer.core.models import Host, Policy, Snapshot, Vm
from balancer.core.plan import Plan
from balancer.core.rules import RuleIndex


def _when(c: Constraint) -> str:
    """When the replay asks ``c``: ``host`` and ``vm`` constraints before each move,
    placement ones as they declare (``CHECKED``)."""
    return c.CHECKED if c.KIND == "placement" else "move"


def violations(snapshot: Snapshot, policy: Policy, plan: Plan) -> list[str]:
    state = ClusterState(snapshot, policy)
    checks: dict[str, list[Constraint]] = defaultdict(list)
    for c in REGISTRY.values():
        checks[_when(c)].append(c)
    ctx = FilterContext(state, RuleIndex.build(snapshot.rules), policy)
    powered_on = {a.host for a in plan.power if a.action == "on"}
    problems: list[str] = []
    hosts = {h.name: h for h in snapshot.hosts}
    for a in plan.power:
        if a.action == "on" and hosts[a.host].state != "off":
            problems.append(f"power on {a.host}, which is {hosts[a.host].state}")
    waves: dict[int, list[int]] = defaultdict(list)
    for i, m in enumerate(plan.moves):
        waves[m.wave].append(i)
    slots = policy.slots
    for wave in sorted(waves):
        moves = [plan.moves[i] for i in waves[wave]]
        if len(moves) > slots.cluster:
            problems.append(f"wave {wave}: {len(moves)} moves over the cluster cap")
        for host, n in Counter(m.source for m in moves).items():
            if n > slots.outbound_per_host:
                problems.append(f"wave {wave}: {n} moves out of {host}")
        for host, n in Counter(m.to for m in moves).items():
            if n > slots.inbound_per_host:
                problems.append(f"wave {wave}: {n} moves into {host}")
        for m in moves:
            v = state.vm_index[m.vm]
            where = state.hosts[state.host_of(v)].name
            if where != m.source:
                problems.append(f"{m.vm}: planned from {m.source} but is on {where}")
            dest = hosts[m.to]
            if m.to in powered_on:
                dest = _on(dest)
            vm = state.vms[v]
            problems += _refusals(checks["move"], vm, dest, ctx, f"{m.vm} → {m.to}")
        for m in moves:
            state.move(state.vm_index[m.vm], state.host_index[m.to])
        for m in moves:
            vm, dest = state.vms[state.vm_index[m.vm]], hosts[m.to]
            problems += _refusals(checks["wave"], vm, dest, ctx, f"wave {wave}: {m.vm} on {m.to}")
    for a in plan.power:
        if a.action == "off" and state.members[state.host_index[a.host]]:
            problems.append(f"power off {a.host}, which still has VMs")
    for m in plan.moves:
        vm, dest = state.vms[state.vm_index[m.vm]], hosts[m.to]
        problems += _refusals(checks["end"], vm, dest, ctx, f"{m.vm} on {m.to} at the end")
    return problems


def _refusals(
    checks: list[Constraint], vm: Vm, dest: Host, ctx: FilterContext, where: str
) -> list[str]:
    out = []
    for c in checks:
        verdict = c.check(vm, dest, ctx)
        if not verdict.ok:
            out.append(f"{where}: {verdict.reason}: {verdict.detail}")
    return out


def _on(host: Host) -> Host:
    return msgspec.structs.replace(host, state="active")
