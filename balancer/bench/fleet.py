"""Benchmark: how long does a simulated fleet take to start, and to publish one round of
every host's report?

    python -m balancer.bench fleet --hosts 10000 --vms-per-host 40 --rounds 5

Starts its own redis-server (or uses ``--redis URL``, which it empties of any fleet),
creates the fleet (facts, initial placement, state written, clock anchored), then
publishes ``--rounds`` rounds back to back, unpaced, with the fleet's own ``Publisher``
(``publish_report`` per host, as agents do). Prints JSON: the start's seconds, per round
the busy seconds (median, p95, max; split into reading the store, building reports and
publishing them), per host, the peak RSS of this process, Redis's memory, and the
machine (cores, model, load average, and a fixed pure-Python workload's seconds to
compare machines by). A round must fit in the report interval in real time (interval /
speed) for the fleet to keep every heartbeat fresh.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from typing import Any

from balancer.bench.own_redis import own_redis
from balancer.fleet.clock import FleetClock
from balancer.fleet.config import FleetConfig
from balancer.fleet.publisher import Publisher, RoundStats
from balancer.fleet.setup import default_trace, start_fleet
from balancer.fleet.store import FleetStore
from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys


def calibration_s() -> float:
    """Seconds this machine takes for a fixed pure-Python workload (median of 3)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i * i
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            names = (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
            model = next(names, "")
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "calibration_s": calibration_s(),
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    client = redis_from_url(url, timeout_s=60)
    keys = Keys()
    config = FleetConfig(
        hosts=args.hosts,
        vms=args.hosts * args.vms_per_host,
        seed=args.seed,
        trace=args.trace or default_trace(),
        start=time.time(),
        placement=args.placement,
        history_len=args.history_len,
    ).checked()
    store = FleetStore(client, keys)
    t0 = time.perf_counter()
    model = start_fleet(store, config, reset=True)
    setup_s = time.perf_counter() - t0
    publisher = Publisher(store, model, FleetClock.from_redis(client, keys))
    rounds: list[RoundStats] = []
    stop = threading.Event()
    for _ in range(args.rounds):
        rounds.append(publisher.one_round(stop, paced=False))
    busy = [r.busy_s for r in rounds]
    info = client.info("memory")
    out = {
        "hosts": args.hosts,
        "vms": config.vms,
        "placement": args.placement,
        "host_scale": model.info.host_scale,
        "hosts_used": sum(1 for m in model.members if m),
        "setup_s": round(setup_s, 2),
        "rounds": args.rounds,
        "round_s": {
            "median": round(statistics.median(busy), 3),
            "p95": round(_pct(busy, 0.95), 3),
            "max": round(max(busy), 3),
            "sync_median": round(statistics.median(r.sync_s for r in rounds), 3),
            "build_median": round(statistics.median(r.build_s for r in rounds), 3),
            "publish_median": round(statistics.median(r.publish_s for r in rounds), 3),
        },
        "ms_per_host": round(statistics.median(busy) / args.hosts * 1000, 3),
        "reports_per_round": rounds[-1].reports,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "redis_used_mib": round(int(info["used_memory"]) / 2**20, 1),
        "machine": machine(),
    }
    client.close()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m balancer.bench fleet", description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms-per-host", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--placement", choices=("packed", "spread"), default="spread")
    parser.add_argument("--history-len", type=int, default=12)
    parser.add_argument("--trace", help="trace folder or file [PlanetLab 20110303]")
    parser.add_argument("--redis", help="use this Redis (its fleet is replaced)")
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.vms_per_host < 1 or args.rounds < 1:
        print("--hosts, --vms-per-host and --rounds must be at least 1", file=sys.stderr)
        return 2
    if args.redis:
        result = run(args, args.redis)
    else:
        with own_redis() as url:
            result = run(args, url)
    print(json.dumps(result, indent=2))
    return 0
