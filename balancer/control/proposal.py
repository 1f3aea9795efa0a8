"""What one intent proposes: moves and power actions with their reasons, chosen on its
own view of the cluster; the cycle composes the proposals into one plan."""

from __future__ import annotations

from dataclasses import dataclass

from balancer.core.compose import Chosen, Switch
from balancer.core.plan import Plan, Unmovable


@dataclass(frozen=True)
class Proposal:
    #: The intent (a ``MoveReason`` or ``PowerReason`` value: ``evacuation``,
    #: ``capacity``, ``relief``, ``balance``, ``consolidation``, ``replacement``, ``idle``).
    intent: str
    moves: tuple[Chosen, ...] = ()
    power: tuple[Switch, ...] = ()
    unmovable: tuple[Unmovable, ...] = ()
    #: One sentence.
    summary: str = ""
    #: ``plan()`` calls made to reach it.
    plans_computed: int = 0
    #: What the intent could not resolve, in cores (relief: CPU still over the line).
    shortfall: float = 0.0

    @staticmethod
    def of_plan(intent: str, plan: Plan, summary: str, plans_computed: int) -> Proposal:
        """The moves and power actions of a sub-plan."""
        return Proposal(
            intent=intent,
            moves=tuple(Chosen(m.vm, m.to, m.reason, m.detail, m.source) for m in plan.moves),
            power=tuple(Switch(a.host, a.action, a.reason, a.detail) for a in plan.power),
            unmovable=plan.unmovable,
            summary=summary,
            plans_computed=plans_computed,
        )

    @property
    def empty(self) -> bool:
        return not self.moves and not self.power
