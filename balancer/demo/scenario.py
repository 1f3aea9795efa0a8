"""The day the demo plays, as fractions of its run (pure).

The fleet's VMs follow a PlanetLab day (their own traces, flat over the day on average),
times a load factor the demo sets like the shape of a working day: a quiet night at
x0.8, an operator's evacuation of one host while it is quiet, the morning's load
returning to x4 and the day holding there. The daemon is not told any of this: it sees
reports, decides and acts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    name: str
    #: Where the phase starts, as a fraction of the run.
    start: float
    #: The load factor at its start and its end (linear in between).
    load_from: float
    load_to: float
    #: What the viewer is told.
    say: str


NIGHT, EVACUATION, MORNING, DAY = (
    Phase("night", 0.0, 0.8, 0.8,
          "night: the daemon packs the load onto few hosts and powers the idle ones off"),
    Phase("maintenance", 0.3, 0.8, 0.8,
          "an operator evacuates a host for maintenance (balancer evacuate)"),
    Phase("morning", 0.55, 0.8, 4.0,
          "morning: the load returns; the daemon powers hosts on before any overloads"),
    Phase("day", 0.85, 4.0, 4.0, "day: the load holds; the fleet is balanced"),
)  # fmt: skip
PHASES = (NIGHT, EVACUATION, MORNING, DAY)


def phase_at(fraction: float, phases: tuple[Phase, ...] = PHASES) -> Phase:
    current = phases[0]
    for p in phases:
        if fraction >= p.start:
            current = p
    return current


def load_at(fraction: float, phases: tuple[Phase, ...] = PHASES) -> float:
    """The load factor at this point of the run."""
    p = phase_at(fraction, phases)
    nxt = phases.index(p) + 1
    end = phases[nxt].start if nxt < len(phases) else 1.0
    span = max(end - p.start, 1e-9)
    x = min(max((fraction - p.start) / span, 0.0), 1.0)
    return p.load_from + (p.load_to - p.load_from) * x
