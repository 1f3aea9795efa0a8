"""Trace-driven evaluation: replay PlanetLab days through the cycle and the planner.

    python -m balancer.bench sim                          # the 10 days, reference set-up
    python -m balancer.bench sim --days 20110303 --plots docs/img --probe-planner
    python -m balancer.bench sim --config settings.json   # SimConfig fields as JSON
    python -m balancer.bench sim --config '{"observation_lag": 1}'   # ... or inline

Prints one JSON object: per day the metrics and the replay's wall time; the medians
over the days; the reference's figures and whether the issue's targets are met (on
20110303 alone, and by the medians). ``--probe-planner`` adds how long one ``plan()``
takes on the first day's cluster: the whole fleet from VM j on host j % 800, the whole
fleet and the hosts that are on from the replay's own placement at noon, and one relief.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from balancer.control.subset import restrict
from balancer.core.models import Snapshot
from balancer.core.planner import plan
from balancer.sim.metrics import Metrics
from balancer.sim.reference import REFERENCE, REFERENCE_DAY, DayTargets, MedianTargets
from balancer.sim.replay import SimConfig, StepRecord, load_config, replay, snapshot_at
from balancer.sim.report import meets_day_targets
from balancer.sim.workload import Workload, reference_workload
from balancer.traces.paths import shared_data_dir
from balancer.traces.planetlab import load_trace, reference_snapshot

DAYS = (
    "20110303", "20110306", "20110309", "20110322", "20110325",
    "20110403", "20110409", "20110411", "20110412", "20110420",
)  # fmt: skip
MEDIANS = ("energy_kwh", "slatah", "pdm", "slav", "esv", "migrations", "mean_active_hosts")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m balancer.bench sim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--days", nargs="+", default=list(DAYS), metavar="DAY")
    ap.add_argument("--data", type=Path, default=shared_data_dir(), help="the shared data")
    ap.add_argument("--config", help="SimConfig fields: a JSON file, or JSON text")
    ap.add_argument("--capacity-mode", choices=["cpu-only", "cpu+memory"])
    ap.add_argument("--hours", type=float)
    ap.add_argument("--plots", type=Path, metavar="DIR", help="write one PNG per day there")
    ap.add_argument("--probe-planner", action="store_true", help="time single plan() calls")
    args = ap.parse_args(argv)

    config = SimConfig()
    if args.config is not None:
        text = (
            args.config if args.config.lstrip().startswith("{") else Path(args.config).read_text()
        )
        config = load_config(text)
    if args.capacity_mode is not None:
        config = msgspec.structs.replace(config, capacity_mode=args.capacity_mode)
    if args.hours is not None:
        config = msgspec.structs.replace(config, hours=args.hours)
    days: dict[str, Any] = {}
    metrics: dict[str, Metrics] = {}
    for day in args.days:
        t0 = time.perf_counter()
        workload = reference_workload(load_trace(args.data / "planetlab" / day))
        t1 = time.perf_counter()
        result = replay(workload, config)
        t2 = time.perf_counter()
        m = metrics[day] = result.metrics
        days[day] = {
            "vms": len(workload.vms),
            **msgspec.to_builtins(m),
            "actions": result.actions,
            "plans_computed": result.plans_computed,
            "load_seconds": round(t1 - t0, 2),
            "replay_seconds": round(t2 - t1, 2),
        }
        if args.plots is not None:
            # matplotlib only when plots are asked for.
            from balancer.sim.plot import plot_run  # noqa: PLC0415

            args.plots.mkdir(parents=True, exist_ok=True)
            title = f"kvm-balancer replay: PlanetLab {day}, {config.capacity_mode}"
            plot_run(result.series, m, title, args.plots / f"sim-{day}.png")

    medians = {k: float(statistics.median(d[k] for d in days.values())) for k in MEDIANS}
    seconds = [d["replay_seconds"] for d in days.values()]
    out: dict[str, Any] = {
        "benchmark": "sim",
        "setup": "reference",
        "config": msgspec.to_builtins(config),
        "days": days,
        "medians": medians,
        "replay_seconds": {"median": statistics.median(seconds), "max": max(seconds)},
        "reference": [msgspec.to_builtins(r) for r in REFERENCE],
    }
    if config.hours is None:  # the targets are for whole days
        out["targets"] = {"median": _median_verdict(medians)}
        if REFERENCE_DAY in metrics:
            out["targets"][REFERENCE_DAY] = {
                **msgspec.to_builtins(DayTargets()),
                "met": meets_day_targets(metrics[REFERENCE_DAY]),
            }
    if args.probe_planner:
        out["planner_probe"] = _probe(args.data / "planetlab" / args.days[0], config)
    print(json.dumps(out, indent=2))
    return 0


def _median_verdict(medians: dict[str, float]) -> dict[str, Any]:
    t = MedianTargets()
    met = {
        "energy_kwh": medians["energy_kwh"] <= t.energy_kwh,
        "slatah": medians["slatah"] <= t.slatah,
        "slav": medians["slav"] <= t.slav,
        "migrations": medians["migrations"] <= t.migrations,
    }
    return {**msgspec.to_builtins(t), "met": met}


def _probe(day: Path, config: SimConfig) -> dict[str, Any]:
    """Seconds (best of 3) and migrations of single plan() calls on one day's cluster."""
    noon = 144
    workload = reference_workload(load_trace(day))
    spread = reference_snapshot(day, 0, config.capacity_mode, 1.0 - config.control.pack_to)
    records: list[StepRecord] = []
    replay(workload, msgspec.structs.replace(config, hours=12.0), records.append)
    packed = _packed(workload, config, records[-1], noon)
    on = restrict(packed, [h.name for h in packed.hosts if h.state == "active"])
    relief = msgspec.structs.replace(
        on,
        policy=msgspec.structs.replace(
            on.policy,
            objective="balance",
            headroom=1.0 - config.control.relieve_to,
            move_cost_per_s=config.control.relief_move_cost_per_s,
        ),
    )
    return {
        "consolidate_800_hosts_from_j_mod_800": _timed(lambda: plan(spread)),
        "consolidate_800_hosts_from_the_replay_at_noon": _timed(lambda: plan(packed)),
        "consolidate_hosts_on_at_noon": {"hosts": len(on.hosts), **_timed(lambda: plan(on))},
        "relief_balance_hosts_on_at_noon": _timed(lambda: plan(relief)),
    }


def _packed(workload: Workload, config: SimConfig, last: StepRecord, step: int) -> Snapshot:
    snap = snapshot_at(workload, config, step, last.placement, np.full(len(workload.vms), np.nan))
    policy = msgspec.structs.replace(
        snap.policy, objective="consolidate", headroom=1.0 - config.control.pack_to
    )
    return msgspec.structs.replace(snap, policy=policy)


def _timed(call: Callable[[], Any]) -> dict[str, Any]:
    best, result = float("inf"), None
    for _ in range(3):
        t0 = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - t0)
    return {"seconds": round(best, 4), "migrations": result.summary.migrations if result else 0}
