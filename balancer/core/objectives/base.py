"""What an objective is: what a plan is for, as one plugin.

An objective mutates a ``Planning`` run after the hosts that must be emptied have been
evacuated (``balancer.core.objectives.evacuate``). It declares the reason its moves carry
when it gives none (``REASON``), the Celery priority of those moves (``PRIORITY``: 0
first … 9 last; the workers' queue follows it), and whether the hosts it empties are
powered off (``POWERS_OFF``). Soft rules are weighed by the weighers it chooses with, so a
VM that moves for the objective's sake goes where its soft rules prefer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from balancer.core.plan import MoveReason
    from balancer.core.planning import Planning


class Objective(Protocol):
    NAME: ClassVar[str]
    REASON: ClassVar[MoveReason]
    PRIORITY: ClassVar[int]
    POWERS_OFF: ClassVar[bool]
    #: Explain why the VMs that stay cannot move (an evacuation plan lists only its own).
    LISTS_UNMOVABLE: ClassVar[bool]

    def run(self, p: Planning) -> None: ...
