"""Benchmark of ``balancer plan``'s output: the plan's table against the plan itself.

    python -m balancer.bench render --hosts 1700 --vms 68000 --repeat 3 --before main

A generated cluster (``balancer.bench.cluster_gen``) planned under ``--objective``
(consolidate: many moves, and the VMs that cannot move listed), optionally with a share
of its hosts in maintenance: the rows a table renders. Times ``plan()``, the JSON
document and the table as ``balancer plan`` prints them (to a file, as a terminal 200
columns wide), and the growth of peak RSS while the table renders. Prints one JSON
object; seconds are medians of ``--repeat``. ``--before REF`` also times the renderer
as it was at git revision REF (its ``balancer/cli/render.py``, loaded from ``git show``)
on the same plan, for a before/after in one run.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import msgspec
from rich.console import Console

from balancer.bench.cluster_gen import generate
from balancer.cli.render import render_plan
from balancer.core.objectives import names as objective_names
from balancer.core.plan import Plan
from balancer.core.planner import plan

Renderer = Callable[[Plan, Console], None]


def _calibration() -> float:
    """Seconds of a fixed pure-Python loop: compares machines (as ``bench daemon``)."""
    t = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i % 7
    return time.perf_counter() - t


def _renderer_at(ref: str) -> Renderer:
    """``render_plan`` of ``balancer/cli/render.py`` at git revision ``ref``."""
    root = Path(__file__).resolve().parents[2]
    source = subprocess.run(
        ["git", "show", f"{ref}:balancer/cli/render.py"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType(f"render_at_{ref}")
    exec(compile(source, f"{ref}:balancer/cli/render.py", "exec"), module.__dict__)
    render: Renderer = module.render_plan
    return render


def _time_render(render: Renderer, result: Plan) -> tuple[float, int, float]:
    """Seconds, bytes printed, and the growth of peak RSS (MiB) of one rendering."""
    rss_before = _rss_mib()
    out = io.StringIO()
    t = time.perf_counter()
    render(result, Console(file=out, width=200, force_terminal=True, soft_wrap=False))
    seconds = time.perf_counter() - t
    return seconds, len(out.getvalue()), _rss_mib() - rss_before


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m balancer.bench render")
    ap.add_argument("--hosts", type=int, default=1700)
    ap.add_argument("--vms", type=int, default=68000)
    ap.add_argument("--maintenance", type=float, default=0.0, help="share of hosts")
    ap.add_argument("--objective", choices=objective_names(), default="consolidate")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", metavar="REF", help="also time the renderer at git REF")
    args = ap.parse_args(argv)
    snap = generate(args.hosts, args.vms, args.seed)
    n = round(args.maintenance * args.hosts)
    snap = msgspec.structs.replace(
        snap,
        hosts=tuple(
            msgspec.structs.replace(h, state="maintenance") if i < n else h
            for i, h in enumerate(snap.hosts)
        ),
        policy=msgspec.structs.replace(snap.policy, objective=args.objective),
    )
    before = _renderer_at(args.before) if args.before else None
    plan_s: list[float] = []
    json_s: list[float] = []
    table_s: list[float] = []
    before_s: list[float] = []
    result = plan(snap)
    text_bytes = before_bytes = 0
    rss_growth = before_rss_growth = 0.0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = plan(snap)
        t1 = time.perf_counter()
        doc = msgspec.json.format(msgspec.json.encode(result))
        json_s.append(time.perf_counter() - t1)
        plan_s.append(t1 - t0)
        del doc
        seconds, text_bytes, growth = _time_render(render_plan, result)
        table_s.append(seconds)
        rss_growth = max(rss_growth, growth)
    if before is not None:
        # after the current renderer, so its peak RSS does not hide the new one's
        for _ in range(args.repeat):
            seconds, before_bytes, growth = _time_render(before, result)
            before_s.append(seconds)
            before_rss_growth = max(before_rss_growth, growth)
    median_plan = statistics.median(plan_s)
    median_table = statistics.median(table_s)
    comparison = (
        {
            "before": {
                "ref": args.before,
                "table_s": round(statistics.median(before_s), 3),
                "table_over_plan": round(statistics.median(before_s) / median_plan, 2),
                "table_mb": round(before_bytes / 1e6, 1),
                "rss_growth_while_rendering_mib": round(before_rss_growth, 1),
                "runs": before_s,
            }
        }
        if before is not None
        else {}
    )
    print(
        json.dumps(
            {
                "benchmark": "render",
                "hosts": args.hosts,
                "vms": args.vms,
                "moves": len(result.moves),
                "unmovable": len(result.unmovable),
                "plan_s": round(median_plan, 3),
                "json_s": round(statistics.median(json_s), 3),
                "table_s": round(median_table, 3),
                "table_over_plan": round(median_table / median_plan, 2),
                "table_mb": round(text_bytes / 1e6, 1),
                "rss_growth_while_rendering_mib": round(rss_growth, 1),
                "peak_rss_mib": round(_rss_mib(), 1),
                "runs": {"plan_s": plan_s, "json_s": json_s, "table_s": table_s},
                **comparison,
                "machine": {
                    "cpu": platform.processor() or platform.machine(),
                    "python": platform.python_version(),
                    "calibration_s": round(_calibration(), 3),
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
