"""Objectives: what a plan is for, registered in one explicit table.

Each objective is one plugin (``base.Objective``) that mutates a ``Planning`` run;
evacuation of the hosts that must be emptied always runs first. The table is the one
list of objectives: the policy's accepted values, ``balancer plan --objective``, the
snapshot's JSON Schema and the Celery priorities of moves follow from it. A new
objective is one file and one ``register`` call (or one line below, for a built-in one).
"""

from __future__ import annotations

from balancer.core.objectives.balance import BalanceObjective
from balancer.core.objectives.base import Objective
from balancer.core.objectives.consolidate import ConsolidateObjective
from balancer.core.objectives.evacuate import EvacuateObjective
from balancer.errors import PluginError

REGISTRY: dict[str, Objective] = {
    o.NAME: o for o in (BalanceObjective(), ConsolidateObjective(), EvacuateObjective())
}


def register(objective: Objective) -> None:
    """Add an objective; its ``NAME`` must be new (a built-in one is never replaced)."""
    if objective.NAME in REGISTRY:
        raise PluginError(f"objective {objective.NAME!r} is already registered")
    if not 0 <= objective.PRIORITY <= 9:  # Celery's priority range
        raise PluginError(f"objective {objective.NAME!r}: priority must be 0..9")
    REGISTRY[objective.NAME] = objective


def unregister(name: str) -> None:
    """Remove an objective added by ``register`` (built-in ones stay)."""
    if name in BUILT_IN:
        raise PluginError(f"objective {name!r} is built in")
    REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """The registered objectives' names, built-in ones first."""
    return tuple(REGISTRY)


BUILT_IN: frozenset[str] = frozenset(REGISTRY)

__all__ = ["BUILT_IN", "REGISTRY", "Objective", "names", "register", "unregister"]
