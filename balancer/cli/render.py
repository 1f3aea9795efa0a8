"""Human-readable plans and explanations (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from balancer.core.explain import Explanation
from balancer.core.plan import Plan

GIB = 1024**3


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def render_plan(plan: Plan, console: Console) -> None:
    s = plan.summary
    console.print(
        f"[bold]Plan[/] ({s.objective}) for snapshot generation {plan.generation}: "
        f"{s.migrations} migration(s) in {s.waves} wave(s), "
        f"{s.total_bytes / GIB:.1f} GiB, {_seconds(s.total_duration_s)} of migration time"
    )
    console.print(
        f"active hosts {s.active_hosts_before} → {s.active_hosts_after}; "
        f"spread CPU {s.spread_before.cpu:.3f} → {s.spread_after.cpu:.3f}, "
        f"memory {s.spread_before.memory:.3f} → {s.spread_after.memory:.3f}; "
        f"overloaded hosts {s.overloaded_hosts_before} → {s.overloaded_hosts_after}"
    )
    if plan.power:
        t = Table("wave", "host", "action", "reason", title="Power")
        for a in plan.power:
            t.add_row(str(a.wave), a.host, a.action, _why(a.reason, a.detail))
        console.print(t)
    if plan.moves:
        t = Table(
            "wave",
            "vm",
            "from",
            "to",
            "mode",
            "duration",
            "downtime",
            "GiB",
            "reason",
            title="Moves",
        )
        for m in plan.moves:
            e = m.estimate
            reason = _why(m.reason, m.detail) + "".join(f"\n[yellow]! {w}[/]" for w in m.warnings)
            t.add_row(
                str(m.wave),
                m.vm,
                m.source,
                m.to,
                m.mode,
                _seconds(e.duration_s),
                f"{e.downtime_ms:.0f} ms",
                f"{e.bytes / GIB:.1f}",
                reason,
            )
        console.print(t)
    if plan.unmovable:
        t = Table("vm", "host", "reason", "detail", title="Cannot move")
        for u in plan.unmovable:
            t.add_row(u.vm, u.host, u.reason, u.detail)
        console.print(t)
    if not plan.moves and not plan.power:
        console.print("Nothing to do.")


def render_explanation(ex: Explanation, console: Console) -> None:
    console.print(f"[bold]{ex.summary}[/]")
    t = Table("host", "verdict", title=f"Hosts for {ex.vm} (snapshot placement)")
    for h in ex.hosts:
        if h.ok:
            t.add_row(h.host, "[green]ok[/]")
        else:
            t.add_row(h.host, "\n".join(f"{v.reason}: {v.detail}" for _, v in h.rejections))
    console.print(t)


def _why(reason: str, detail: str) -> str:
    return f"{reason}: {detail}" if detail else reason
