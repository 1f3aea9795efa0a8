"""The demo's live view (rich): the hosts with their load bars and states, the
migrations in flight with their progress, the leader, the last cycle, the phase of the
day. ``render(frame)`` is pure: the runner builds a ``Frame`` from the store and the
view draws it."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

BAR = 20


@dataclass(frozen=True)
class HostLine:
    name: str
    state: str
    reason: str
    cpu: float  # utilization 0..1 (may pass 1)
    memory: float
    vms: int


@dataclass(frozen=True)
class MoveLine:
    vm: str
    source: str
    dest: str
    percent: float
    steps: str


@dataclass(frozen=True)
class Frame:
    clock: str
    phase: str
    load: float
    leader: str
    last_cycle: str
    hosts: tuple[HostLine, ...]
    moves: tuple[MoveLine, ...] = ()
    evacuation: str = ""
    totals: dict[str, int] = field(default_factory=dict)
    energy: str = ""


_STATE_STYLE = {
    "active": "green",
    "maintenance": "yellow",
    "draining": "yellow",
    "off": "dim",
    "failed": "red",
}


def bar(fraction: float, width: int = BAR) -> Text:
    filled = min(width, round(max(0.0, fraction) * width))
    style = "red" if fraction > 1.0 else "yellow" if fraction > 0.85 else "green"
    text = Text("█" * filled, style=style)
    text.append("·" * (width - filled), style="dim")
    text.append(f" {fraction:4.0%}")
    return text


def render(frame: Frame) -> RenderableType:
    head = Text.assemble(
        ("kvm-balancer demo", "bold"), f"   {frame.clock}   load x{frame.load:.1f}   ",
        ("leader ", "dim"), frame.leader,
    )  # fmt: skip
    hosts = Table("host", "state", "CPU", "memory", "VMs", box=None, pad_edge=False)
    for h in frame.hosts:
        state = Text(h.state + (f" ({h.reason})" if h.reason else ""))
        state.stylize(_STATE_STYLE.get(h.state, ""))
        on = h.state != "off"
        hosts.add_row(
            h.name,
            state,
            bar(h.cpu) if on else Text("-", style="dim"),
            bar(h.memory, 10) if on else Text("-", style="dim"),
            str(h.vms),
        )
    parts: list[RenderableType] = [head, Text(frame.phase, style="cyan"), hosts]
    if frame.moves:
        moves = Table("migrating", "from → to", "progress", "ladder", box=None, pad_edge=False)
        for m in frame.moves[:8]:
            moves.add_row(m.vm, f"{m.source} → {m.dest}", bar(m.percent / 100, 10), m.steps)
        if len(frame.moves) > 8:
            moves.add_row(f"… {len(frame.moves) - 8} more", "", "", "")
        parts.append(moves)
    if frame.evacuation:
        parts.append(Text(frame.evacuation, style="yellow"))
    totals = "  ".join(f"{k} {v}" for k, v in frame.totals.items())
    parts.append(Text(f"last cycle: {frame.last_cycle}", style="dim"))
    parts.append(Text(f"{totals}   {frame.energy}"))
    return Group(*parts)
