"""A replay as a JSON document, and our figures beside the reference's (pure)."""

from __future__ import annotations

from typing import Any

import msgspec

from balancer.sim.metrics import Metrics
from balancer.sim.reference import REFERENCE, DayTargets
from balancer.sim.replay import SimResult
from balancer.sim.workload import Workload
from balancer.traces.trace import Trace


def run_document(
    trace: Trace, workload: Workload, result: SimResult, seconds: float, setup: str
) -> dict[str, Any]:
    return {
        "trace": {"kind": trace.kind, "source": trace.source, "vms": len(trace.names)},
        "setup": setup,
        "vms": len(workload.vms),
        "hosts": len(workload.hosts),
        "config": msgspec.to_builtins(result.config),
        "metrics": msgspec.to_builtins(result.metrics),
        "actions": result.actions,
        "plans_computed": result.plans_computed,
        "replay_seconds": round(seconds, 2),
    }


def meets_day_targets(m: Metrics, targets: DayTargets | None = None) -> dict[str, bool]:
    t = targets or DayTargets()
    return {
        "energy_kwh": m.energy_kwh <= t.energy_kwh,
        "slatah": m.slatah <= t.slatah,
        "slav": m.slav <= t.slav,
        "migrations": m.migrations <= t.migrations,
    }


Row = tuple[str, ...]

#: ``compare_rows``'s columns.
COMPARE_HEADER: Row = (
    "policy",
    "kWh",
    "SLATAH %",
    "SLAV e-5",
    "migrations",
    "10-day median: kWh",
    "SLATAH %",
    "SLAV e-5",
    "migrations",
)


def compare_rows(m: Metrics, label: str) -> list[Row]:
    """The reference on 20110303 and its 10-day medians, then ``label`` (our run: its
    day's figures, no medians)."""

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.2f}"

    def e5(x: float | None) -> str:
        if x is None:
            return "—"
        v = x / 1e-5
        return f"{v:.2f}" if v >= 0.1 or v == 0 else f"{v:.2g}"

    def num(x: float | None, fmt: str = ",.0f") -> str:
        return "—" if x is None else format(x, fmt)

    rows: list[Row] = [
        (
            r.policy,
            num(r.energy_kwh, ".2f"),
            pct(r.slatah),
            e5(r.slav),
            num(r.migrations),
            num(r.median_energy_kwh, ".2f"),
            pct(r.median_slatah),
            e5(r.median_slav),
            num(r.median_migrations),
        )
        for r in REFERENCE
    ]
    ours = (label, f"{m.energy_kwh:.2f}", pct(m.slatah), e5(m.slav), num(m.migrations))
    rows.append((*ours, "—", "—", "—", "—"))
    return rows
