"""Placement benchmark: time and memory of one ``plan()`` on a large cluster.

    python -m balancer.bench placement --hosts 1000 --vms 20000 --objective balance --seed 1
    python -m balancer.bench placement --planetlab 20110303 --step 0 --objective consolidate \
        --headroom 0

Prints one JSON object: plan_seconds (wall) and plan_cpu_seconds (this process's CPU
time: the fairer figure on a shared machine), peak_rss_mib, migrations, active hosts
before and after, the lower bound on hosts, utilization spread before and after, and the
machine's speed: loop_10m_seconds, the time of a 10-million-step Python loop (2.0 s on
the reference 2-core machine of issue 15; scale targets by it).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time
from pathlib import Path

import msgspec
import numpy as np

from balancer.bench.cluster_gen import generate
from balancer.bench.machine import loop_10m_s
from balancer.core.models import Snapshot
from balancer.core.objectives import names as objective_names
from balancer.core.planner import plan
from balancer.traces.paths import shared_data_dir
from balancer.traces.planetlab import reference_snapshot


def lower_bound_hosts(snapshot: Snapshot) -> int:
    """Fewest hosts whose capacity (largest first, with headroom) covers the demand."""
    keep = 1.0 - snapshot.policy.headroom
    need = []
    cpu = sorted((h.cpu_capacity_cores * keep for h in snapshot.hosts), reverse=True)
    demand = sum(v.cpu_used for v in snapshot.vms if v.state != "shutoff")
    need.append(int(np.searchsorted(np.cumsum(cpu), demand - 1e-9)) + 1)
    if snapshot.policy.capacity_mode != "cpu-only":
        mem = sorted((h.memory_mib * keep for h in snapshot.hosts), reverse=True)
        demand = sum(v.memory_mib for v in snapshot.vms)
        need.append(int(np.searchsorted(np.cumsum(mem), demand - 1e-9)) + 1)
    return min(max(need), len(snapshot.hosts))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m balancer.bench placement",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=20000)
    ap.add_argument("--objective", choices=objective_names(), default="balance")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--headroom", type=float)
    ap.add_argument("--capacity-mode", choices=["cpu+memory", "cpu-only"], default="cpu+memory")
    ap.add_argument("--planetlab", metavar="DAY", help="the reference cluster of a trace day")
    ap.add_argument("--step", type=int, default=0)
    ap.add_argument(
        "--data",
        type=Path,
        default=shared_data_dir(),
        help="the shared data folder (default: $KVM_BALANCER_DATA or ../shared/data)",
    )
    args = ap.parse_args(argv)

    if args.planetlab:
        headroom = 0.0 if args.headroom is None else args.headroom
        snapshot = reference_snapshot(
            args.data / "planetlab" / args.planetlab, args.step, args.capacity_mode, headroom
        )
        source = {"planetlab": args.planetlab, "step": args.step}
    else:
        headroom = 0.1 if args.headroom is None else args.headroom
        snapshot = generate(args.hosts, args.vms, args.seed, headroom=headroom)
        source = {"generated": True, "seed": args.seed}
    changes: dict[str, object] = {
        "objective": args.objective,
        "headroom": headroom,
        "capacity_mode": args.capacity_mode,
    }
    if args.objective == "evacuate":
        # Evacuate the 1 % most loaded hosts.
        n = max(1, len(snapshot.hosts) // 100)
        busiest = sorted(snapshot.hosts, key=lambda h: -h.cpu_used)[:n]
        changes["evacuate_hosts"] = tuple(h.name for h in busiest)
    policy = msgspec.structs.replace(snapshot.policy, **changes)
    snapshot = msgspec.structs.replace(snapshot, policy=policy)

    loop = loop_10m_s()
    t0, c0 = time.perf_counter(), time.process_time()
    result = plan(snapshot)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    s = result.summary
    print(
        json.dumps(
            {
                "benchmark": "placement",
                **source,
                "hosts": len(snapshot.hosts),
                "vms": len(snapshot.vms),
                "objective": args.objective,
                "capacity_mode": args.capacity_mode,
                "headroom": headroom,
                "plan_seconds": round(seconds, 3),
                "plan_cpu_seconds": round(cpu_seconds, 3),
                "loop_10m_seconds": loop,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "migrations": s.migrations,
                "waves": s.waves,
                "unmovable": len(result.unmovable),
                "active_hosts_before": s.active_hosts_before,
                "active_hosts_after": s.active_hosts_after,
                "lower_bound_hosts": lower_bound_hosts(snapshot),
                "spread_before": {
                    "cpu": round(s.spread_before.cpu, 4),
                    "memory": round(s.spread_before.memory, 4),
                },
                "spread_after": {
                    "cpu": round(s.spread_after.cpu, 4),
                    "memory": round(s.spread_after.memory, 4),
                },
                "overloaded_before": s.overloaded_hosts_before,
                "overloaded_after": s.overloaded_hosts_after,
            },
            indent=2,
        )
    )
    return 0 if math.isfinite(seconds) else 1
