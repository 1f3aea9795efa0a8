"""How one VM may be migrated: the policy's defaults with the VM's own overrides (pure).

The overrides are labels, set by an operator with ``balancer vm label VM KEY=VALUE``
(or in the domain's kvm-balancer metadata):

    critical=true          never post-copy, never auto-converge (the guide, 12.8.1)
    max_downtime_ms=500    the most downtime this VM tolerates: the plan's estimate and the
                           executor's first limit are at most this, the ladder's downtime
                           rung raises it no further
    allow_postcopy=false   post-copy for this VM or not, whatever the policy says
    allow_suspend=false    never finish this VM's migration by pausing it

A label whose value does not parse is ignored (an agent may report any label);
``check_labels`` refuses such values where an operator sets them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from balancer.core.models import LadderRung, Policy, Vm
from balancer.errors import InputError

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})
BOOL_LABELS = ("critical", "allow_postcopy", "allow_suspend")
MAX_DOWNTIME_LABEL = "max_downtime_ms"


@dataclass(frozen=True, slots=True)
class VmLadder:
    critical: bool
    #: The max downtime the plan's estimate assumes and the migration starts with.
    downtime_ms: int
    #: How far the ladder's downtime rung may raise it.
    max_downtime_ms: int
    allow_postcopy: bool
    allow_suspend: bool
    #: The rungs this VM's migration may climb, in order.
    rungs: tuple[LadderRung, ...]


def _flag(labels: Mapping[str, str], name: str) -> bool | None:
    value = labels.get(name, "").strip().lower()
    return True if value in _TRUE else False if value in _FALSE else None


def _millis(labels: Mapping[str, str], name: str) -> int | None:
    value = labels.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def vm_ladder(vm: Vm, policy: Policy) -> VmLadder:
    """The VM's ladder: the policy's, overridden by its labels."""
    labels, ladder = vm.labels, policy.ladder
    critical = _flag(labels, "critical")
    critical = vm.critical if critical is None else critical
    ceiling = _millis(labels, MAX_DOWNTIME_LABEL)
    top = max(ladder.max_downtime_ms, policy.downtime_budget_ms) if ceiling is None else ceiling
    postcopy = _flag(labels, "allow_postcopy")
    suspend = _flag(labels, "allow_suspend")
    allow_postcopy = (policy.allow_postcopy if postcopy is None else postcopy) and not critical
    allow_suspend = ladder.allow_suspend if suspend is None else suspend
    rungs = tuple(
        r
        for r in ladder.rungs
        if not (r == "postcopy" and not allow_postcopy)
        and not (r == "suspend" and not allow_suspend)
        and not (r == "auto-converge" and critical)
    )
    return VmLadder(
        critical=critical,
        downtime_ms=min(policy.downtime_budget_ms, top),
        max_downtime_ms=top,
        allow_postcopy=allow_postcopy,
        allow_suspend=allow_suspend,
        rungs=rungs,
    )


def check_labels(labels: Mapping[str, str]) -> None:
    """Refuse a ladder label whose value would be ignored (``InputError`` naming it)."""
    for name in BOOL_LABELS:
        if name in labels and _flag(labels, name) is None:
            raise InputError(f"{name}={labels[name]!r}: expected true or false", "LABELS")
    if MAX_DOWNTIME_LABEL in labels and _millis(labels, MAX_DOWNTIME_LABEL) is None:
        raise InputError(f"{MAX_DOWNTIME_LABEL}={labels[MAX_DOWNTIME_LABEL]!r}: expected a "
                         "whole number of milliseconds above 0", "LABELS")  # fmt: skip
