"""Benchmark of one control cycle's decision: ``decide()`` alone, on a generated cluster.

    python -m balancer.bench.decide --hosts 1000 --vms-per-host 20
    python -m balancer.bench.decide --hosts 10000 --vms-per-host 40 --repeat 3

The cluster comes from ``balancer.bench.cluster_gen`` (hosts of three sizes, VMs skewed
so some hosts run hot); a share of its emptiest hosts is switched off (``--off``) so
power-on has spares; each VM's history is its demand now with noise, over the daemon's
forecast window at its sample spacing (default settings: 3600 s at 60 s). The first
decision (relief, balance, the first consolidation) and a second one from the memory the
first left are timed separately. Prints one JSON object: seconds per decision (median
and all), moves and intents of each, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from typing import Any

import msgspec
import numpy as np

from balancer.bench.cluster_gen import generate
from balancer.control.cycle import Decision, decide
from balancer.control.memory import CycleMemory
from balancer.control.settings import ControlSettings
from balancer.control.situation import Situation
from balancer.core.models import Snapshot


def cluster(hosts: int, per_host: int, seed: int, off_share: float) -> Snapshot:
    """A generated cluster; the ``off_share`` emptiest hosts off (their VMs moved to the
    fullest hosts' neighbours would change the load: they must hold none)."""
    snap = generate(hosts, hosts * per_host, seed)
    holding = {v.host for v in snap.vms}
    empty = [h.name for h in snap.hosts if h.name not in holding]
    n_off = min(len(empty), round(off_share * hosts))
    off = set(empty[:n_off])
    return msgspec.structs.replace(
        snap,
        hosts=tuple(
            msgspec.structs.replace(h, state="off", cpu_used=0.0) if h.name in off else h
            for h in snap.hosts
        ),
    )


def history(snap: Snapshot, columns: int, seed: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    rng = np.random.default_rng(seed)
    now = np.array([v.cpu_used for v in snap.vms], dtype=np.float64)
    out = now[:, None] * rng.uniform(0.7, 1.3, (len(now), columns))
    out[:, -1] = now
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m balancer.bench.decide", description=__doc__)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms-per-host", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--off", type=float, default=0.05, help="share of hosts off")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    settings = ControlSettings()
    t0 = time.perf_counter()
    snap = cluster(args.hosts, args.vms_per_host, args.seed, args.off)
    columns = settings.samples(settings.forecast_window_s, settings.sample_every_s)
    hist = history(snap, columns, args.seed)
    build_s = time.perf_counter() - t0
    situation = Situation(snap, hist, settings.sample_every_s)
    first: list[float] = []
    second: list[float] = []
    decisions: list[Decision] = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        d1 = decide(situation, CycleMemory(), settings)
        first.append(time.perf_counter() - t)
        later = msgspec.structs.replace(snap, taken_at=snap.taken_at + settings.sample_every_s)
        t = time.perf_counter()
        d2 = decide(Situation(later, hist, settings.sample_every_s), d1.memory, settings)
        second.append(time.perf_counter() - t)
        decisions = [d1, d2]
    out = {
        "benchmark": "decide",
        "hosts": len(snap.hosts),
        "vms": len(snap.vms),
        "off_hosts": sum(1 for h in snap.hosts if h.state == "off"),
        "history_columns": columns,
        "build_seconds": round(build_s, 2),
        "first": _summary(first, decisions[0]),
        "second": _summary(second, decisions[1]),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(out, indent=2))
    return 0


def _summary(seconds: list[float], d: Decision) -> dict[str, Any]:
    return {
        "seconds_median": round(statistics.median(seconds), 3),
        "seconds": [round(s, 3) for s in seconds],
        "intents": list(d.intents),
        "moves": len(d.plan.moves),
        "power": len(d.plan.power),
        "waves": d.plan.summary.waves,
        "plans_computed": d.plans_computed,
        "summary": d.summary,
    }


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
