"""Why a VM stays or goes: its move or the reason it cannot move, and every host's
verdicts from every filter (against the snapshot's placement)."""

from __future__ import annotations

from dataclasses import dataclass

from balancer.core.filters import all_verdicts
from balancer.core.models import Policy, Snapshot
from balancer.core.plan import Move, Plan, Unmovable
from balancer.core.planning import Planning
from balancer.core.reasons import Verdict
from balancer.errors import InputError


@dataclass(frozen=True)
class HostVerdicts:
    host: str
    #: (filter name, verdict) for every filter that refused the host; empty: accepted.
    rejections: tuple[tuple[str, Verdict], ...]

    @property
    def ok(self) -> bool:
        return not self.rejections


@dataclass(frozen=True)
class Explanation:
    vm: str
    host: str
    move: Move | None
    unmovable: Unmovable | None
    hosts: tuple[HostVerdicts, ...]

    @property
    def summary(self) -> str:
        if self.move is not None:
            m = self.move
            why = f"{m.reason}: {m.detail}" if m.detail else m.reason
            return f"{self.vm} moves {m.source} → {m.to} ({m.mode}, wave {m.wave}): {why}"
        if self.unmovable is not None:
            u = self.unmovable
            return f"{self.vm} stays on {self.host}: {u.reason}: {u.detail}"
        n_ok = sum(1 for h in self.hosts if h.ok)
        return (
            f"{self.vm} stays on {self.host}: no move of it serves the objective "
            f"({n_ok} other host(s) could take it)"
        )


def explain(snapshot: Snapshot, policy: Policy, vm_name: str, plan: Plan) -> Explanation:
    p = Planning(snapshot, policy, snapshot.taken_at)
    index = p.state.vm_index.get(vm_name)
    if index is None:
        raise InputError(f"no VM named {vm_name!r} in the snapshot", "--explain")
    vm = p.state.vms[index]
    hosts = tuple(
        HostVerdicts(h.name, tuple((n, v) for n, v in all_verdicts(vm, h, p.fctx) if not v.ok))
        for h in snapshot.hosts
        if h.name != vm.host
    )
    return Explanation(
        vm=vm.name,
        host=vm.host,
        move=next((m for m in plan.moves if m.vm == vm_name), None),
        unmovable=next((u for u in plan.unmovable if u.vm == vm_name), None),
        hosts=hosts,
    )
