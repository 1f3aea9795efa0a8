"""One operator-requested move, planned by the real planner so every filter and rule
applies (``balancer migrate VM --to HOST``). Pure: a snapshot in, a ``Move`` out, or an
``InputError`` saying why the planner refuses.

How the planner is asked: the VM's source is evacuated with the VM pinned to the chosen
host and every other VM of the source pinned where it is, so the plan can hold only this
one move. A plan that would need more (moving other VMs to make room, powering a host
on) is refused rather than half done. As in an evacuation, the cool-down does not hold an
operator's move back.
"""

from __future__ import annotations

import msgspec

from balancer.core.explain import explain
from balancer.core.migration_model import Mode
from balancer.core.models import PinRule, Snapshot, Vm
from balancer.core.plan import Move, MoveReason, Plan
from balancer.core.planner import plan
from balancer.core.rules import RuleIndex
from balancer.errors import InputError

#: ``--mode`` spellings → the planner's modes ("auto": the planner's choice).
MODES: dict[str, Mode | None] = {
    "auto": None,
    "live": "live",
    "live-postcopy": "live-postcopy",
    "post-copy": "live-postcopy",
    "non-live": "non-live",
    "offline": "offline",
}


def plan_single_move(snapshot: Snapshot, vm_name: str, dest: str) -> Move:
    """The planner's move of ``vm_name`` to ``dest``, or an ``InputError`` saying why not."""
    vm = next((v for v in snapshot.vms if v.name == vm_name), None)
    if vm is None:
        raise InputError(f"no VM named {vm_name!r} in the store's snapshot", "VM")
    host = next((h for h in snapshot.hosts if h.name == dest), None)
    if host is None:
        known = ", ".join(sorted(h.name for h in snapshot.hosts))
        raise InputError(f"no host named {dest!r} in the store's snapshot ({known})", "--to")
    if vm.host == dest:
        raise InputError(f"{vm_name} already runs on {dest}", "--to")
    if host.state != "active":
        raise InputError(f"{dest} is {host.state}: moves go to active hosts only", "--to")
    partners = RuleIndex.build(snapshot.rules).together.get(vm_name)
    if partners:
        raise InputError(f"{vm_name} must share a host with {', '.join(sorted(partners))} "
                         "(hard affinity): it cannot move alone", "VM")  # fmt: skip
    result = plan(_asking(snapshot, vm, dest))
    move = next((m for m in result.moves if m.vm == vm_name), None)
    if move is None:
        raise InputError(f"the planner refuses to move {vm_name} to {dest}: "
                         f"{_why_not(snapshot, vm_name, dest, result)}", "--to")  # fmt: skip
    others = sorted(m.vm for m in result.moves if m.vm != vm_name)
    if others or result.power:
        raise InputError(f"{vm_name} fits on {dest} only after moving {', '.join(others)} "
                         "off it; move those first or choose another host", "--to")  # fmt: skip
    return msgspec.structs.replace(move, wave=1, reason=MoveReason.OPERATOR,
                                   detail=f"an operator moves {vm_name} to {dest}")  # fmt: skip


def _asking(snapshot: Snapshot, vm: Vm, dest: str) -> Snapshot:
    stay = tuple(PinRule(vm=v.name, hosts=(v.host,))
                 for v in snapshot.vms if v.host == vm.host and v.name != vm.name)  # fmt: skip
    policy = msgspec.structs.replace(snapshot.policy, objective="evacuate",
                                     evacuate_hosts=(vm.host,), max_migrations=None)  # fmt: skip
    rules = (*snapshot.rules, PinRule(vm=vm.name, hosts=(dest,)), *stay)
    return msgspec.structs.replace(snapshot, rules=rules, policy=policy)


def _why_not(snapshot: Snapshot, vm_name: str, dest: str, result: Plan) -> str:
    """The filters that reject ``dest`` (against the real rules), else the plan's reason."""
    ex = explain(snapshot, snapshot.policy, vm_name, result)
    verdicts = next((h.rejections for h in ex.hosts if h.host == dest), ())
    if verdicts:
        return "; ".join(f"{name}: {v.detail}" for name, v in verdicts)
    stuck = next((u for u in result.unmovable if u.vm == vm_name), None)
    return f"{stuck.reason}: {stuck.detail}" if stuck is not None else "no reason given"


def with_mode(move: Move, vm: Vm, snapshot: Snapshot, mode: str) -> Move:
    """``move`` in the ``--mode`` asked for ("auto": as planned), if it applies to the VM."""
    wanted = MODES[mode]
    if wanted is None or wanted == move.mode:
        return move
    if (wanted == "offline") != (vm.state == "shutoff"):
        raise InputError(f"{vm.name} is {vm.state}: mode {wanted} does not apply "
                         f"(offline is for shut-off VMs only)", "--mode")  # fmt: skip
    if wanted in ("live", "live-postcopy") and vm.state != "running":
        raise InputError(f"{vm.name} is {vm.state}: a live move needs a running VM", "--mode")
    if wanted == "live-postcopy" and (vm.critical or not snapshot.policy.allow_postcopy):
        why = f"{vm.name} is critical" if vm.critical else "the policy does not allow post-copy"
        raise InputError(f"post-copy refused: {why}", "--mode")
    return msgspec.structs.replace(move, mode=wanted)
