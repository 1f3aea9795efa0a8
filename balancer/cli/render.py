"""Human-readable plans and explanations (the CLI's tables, ``balancer.cli.tables``).
Every name and sentence in them may come from a store or a document: printed escaped."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from balancer.cli.tables import Cell, Column, print_table
from balancer.cli.text import shown
from balancer.core.explain import Explanation
from balancer.core.plan import Plan, Unmovable

GIB = 1024**3

_MOVES = [
    Column("WAVE", "right"),
    Column("VM"),
    Column("FROM"),
    Column("TO"),
    Column("MODE"),
    Column("DURATION", "right"),
    Column("DOWNTIME", "right"),
    Column("GIB", "right"),
    Column("REASON"),
]
_POWER = [Column("WAVE", "right"), Column("HOST"), Column("ACTION"), Column("REASON")]
_STUCK = [Column("VM"), Column("HOST"), Column("REASON"), Column("DETAIL")]


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def render_plan(plan: Plan, console: Console) -> None:
    s = plan.summary
    console.print(
        Text.assemble(
            ("Plan", "bold"),
            f" ({shown(s.objective)}) for snapshot generation {plan.generation}: "
            f"{s.migrations} migration(s) in {s.waves} wave(s), "
            f"{s.total_bytes / GIB:.1f} GiB, {_seconds(s.total_duration_s)} of migration time",
        ),
        soft_wrap=True,
    )
    console.print(
        f"active hosts {s.active_hosts_before} → {s.active_hosts_after}; "
        f"spread CPU {s.spread_before.cpu:.3f} → {s.spread_after.cpu:.3f}, "
        f"memory {s.spread_before.memory:.3f} → {s.spread_after.memory:.3f}; "
        f"overloaded hosts {s.overloaded_hosts_before} → {s.overloaded_hosts_after}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    if plan.power:
        rows = [[str(a.wave), a.host, a.action, _why(a.reason, a.detail)] for a in plan.power]
        print_table(console, _POWER, rows, title="Power")
    if plan.moves:
        move_rows: list[list[Cell]] = []
        for m in plan.moves:
            e = m.estimate
            row: list[Cell] = [
                str(m.wave),
                m.vm,
                m.source,
                m.to,
                m.mode,
                _seconds(e.duration_s),
                f"{e.downtime_ms:.0f} ms",
                f"{e.bytes / GIB:.1f}",
                _why(m.reason, m.detail),
            ]
            if m.warnings:
                row[-1] = (f"{_why(m.reason, m.detail)}; ! {'; ! '.join(m.warnings)}", "yellow")
            move_rows.append(row)
        print_table(console, _MOVES, move_rows, title="Moves")
    if plan.unmovable:
        render_unmovable(plan.unmovable, console, "Cannot move")
    if not plan.moves and not plan.power:
        console.print("Nothing to do.")


def render_unmovable(unmovable: tuple[Unmovable, ...], console: Console, title: str) -> None:
    rows = [[u.vm, u.host, u.reason, u.detail] for u in unmovable]
    print_table(console, _STUCK, rows, title=title)


def render_explanation(ex: Explanation, console: Console) -> None:
    console.print(Text(shown(ex.summary), style="bold"), soft_wrap=True)
    rows: list[list[Cell]] = []
    for h in ex.hosts:
        if h.ok:
            rows.append([h.host, ("ok", "green")])
        else:
            why = "; ".join(f"{v.reason}: {v.detail}" for _, v in h.rejections)
            rows.append([h.host, why])
    print_table(
        console,
        [Column("HOST"), Column("VERDICT")],
        rows,
        title=f"Hosts for {ex.vm} (snapshot placement)",
    )


def _why(reason: str, detail: str) -> str:
    return f"{reason}: {detail}" if detail else reason
