"""``python -m balancer.bench distrust``: what the reader's check of every report
(``balancer.state.distrust.implausible``) adds to a snapshot read: the realistic reports
of ``sim_reports`` (10,000 hosts of 40 VMs by default), checked ``--rounds`` times; the
median and best seconds per round, as JSON."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time

from balancer.bench.sim_reports import simulated_report
from balancer.state.distrust import implausible
from balancer.state.report import ReportHead


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m balancer.bench distrust")
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--vms-per-host", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(0)
    heads = []
    for i in range(args.hosts):
        r = simulated_report(i, args.vms_per_host, 1.0e9, rng)
        heads.append(ReportHead(host=r.host, vms=r.vms, collected_at=r.collected_at))
    times = []
    flagged = 0
    for _ in range(args.rounds):
        start = time.perf_counter()
        flagged = sum(implausible(h) is not None for h in heads)
        times.append(time.perf_counter() - start)
    print(json.dumps({
        "hosts": args.hosts, "vms": args.hosts * args.vms_per_host, "rounds": args.rounds,
        "median_s": round(statistics.median(times), 4), "best_s": round(min(times), 4),
        "implausible": flagged, "cpus": os.cpu_count(),
    }))  # fmt: skip
    return 0
