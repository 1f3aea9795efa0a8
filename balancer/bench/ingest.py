"""Benchmark: can one Redis take every agent's report, and how fast is a snapshot?

    python -m balancer.bench ingest --hosts 10000 --vms-per-host 40 --interval 10
    python -m balancer.bench ingest --read-only --rounds 7 --compare ../wt-main  # reads only

Starts its own redis-server (or uses ``--redis URL``), fills it with one report per host,
then simulated agents (``--workers`` processes, one connection each) publish every host's
report once per interval, spread evenly over the interval, with the agent's own code
(``publish_report``: one MULTI/EXEC round trip). Meanwhile ``snapshot_from_redis`` reads
the whole cluster a few times. Prints JSON: throughput against the target, whether it was
sustained (the rate held and no heartbeat could have expired: every report less than
``ttl - interval`` late), Redis CPU (from INFO, % of one core) and memory, publish
latencies and snapshot times (under load, and idle afterwards).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import redis

from balancer.bench.own_redis import own_redis
from balancer.bench.read_compare import compare
from balancer.bench.sim_reports import host_name, refreshed, simulated_report
from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from balancer.state.publish import (
    DEFAULT_HISTORY_LEN,
    ensure_schema,
    publish_report,
    read_resident,
)
from balancer.state.report import encode_report, with_resident
from balancer.state.snapshot_read import snapshot_from_redis

SNAPSHOT_TARGET_S = 2.0


@dataclass(frozen=True)
class WorkerArgs:
    index: int
    workers: int
    hosts: int
    vms_per_host: int
    interval_s: float
    duration_s: float
    history_len: int
    url: str
    prefix: str
    nice: int


@dataclass(frozen=True)
class WorkerResult:
    reports: int
    late_s: list[float]
    latency_ms: list[float]
    report_bytes: int
    #: CPU seconds this simulated-agent process used while publishing.
    cpu_s: float


def _worker(args: WorkerArgs, ready: Barrier, go: Barrier, t0_box: Any, out: Any) -> None:
    os.nice(args.nice)
    rng = random.Random(args.index)
    keys = Keys(args.prefix)
    mine = range(args.index, args.hosts, args.workers)
    now = time.time()
    reports = {i: simulated_report(i, args.vms_per_host, now, rng) for i in mine}
    # A real agent holds one report; this process holds thousands, which the cyclic
    # collector would otherwise rescan again and again (9 points of CPU measured at F = 1).
    gc.freeze()
    client = redis_from_url(args.url, timeout_s=60)
    try:
        # As the agent: its first publish reads the executor's measures of its VMs, each
        # publish brings them back for the next report.
        resident: dict[int, Mapping[str, float]] = {
            i: read_resident(client, keys, r.host.name) for i, r in reports.items()
        }
        for i, report in reports.items():
            reports[i] = with_resident(report, resident[i])
            publish_report(client, keys, reports[i], history_len=args.history_len)
        ready.wait()
        go.wait()
        cpu0 = time.process_time()
        t0 = float(t0_box.value)
        end = t0 + args.duration_s
        late: list[float] = []
        latency: list[float] = []
        sent = 0
        size = len(encode_report(next(iter(reports.values()))))
        round_no = 0
        while True:
            for i in mine:
                due = t0 + round_no * args.interval_s + i * args.interval_s / args.hosts
                if due >= end:
                    cpu = time.process_time() - cpu0
                    out.put(asdict(WorkerResult(sent, late, latency, size, cpu)))
                    return
                wait = due - time.time()
                if wait > 0:
                    time.sleep(wait)
                start = time.time()
                late.append(max(0.0, start - due))
                report = refreshed(reports[i], start, rng, round_no + 2)
                reports[i] = with_resident(report, resident[i])
                published = publish_report(client, keys, reports[i], history_len=args.history_len)
                resident[i] = published.resident_mib
                latency.append((time.time() - start) * 1000)
                sent += 1
            round_no += 1
    finally:
        client.close()


def _cpu_seconds(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _time_snapshot(client: redis.Redis, keys: Keys) -> tuple[float, int, int, int, int, int]:
    start = time.perf_counter()
    snap = snapshot_from_redis(client, keys=keys)
    took = time.perf_counter() - start
    cooling = sum(1 for vm in snap.vms if vm.last_migrated_at is not None)
    measured = sum(1 for vm in snap.vms if vm.resident_mib is not None)
    return took, len(snap.hosts), len(snap.vms), snap.generation, cooling, measured


def _fill_executor_facts(client: redis.Redis, keys: Keys, args: argparse.Namespace) -> int:
    """What the executor leaves per migrated VM, for the first ``--moved-fraction`` of each
    host's VMs: its last migration (``vm-migrated``, times spread evenly over the last
    ``--moved-within`` seconds, the most recent spread over every host, as migrations
    are) and its measured memory (the host's ``vm-resident-mib``, which the simulated
    agents put in their reports). Returns how many VMs have them."""
    per_host: int = round(args.vms_per_host * args.moved_fraction)
    if per_host <= 0:
        return 0
    now, total = time.time(), per_host * int(args.hosts)
    for i in range(args.hosts):
        host = host_name(i)
        names = [f"{host}-vm-{j:03d}" for j in range(per_host)]
        ages = ((j * args.hosts + i) / total * args.moved_within for j in range(per_host))
        pipe = client.pipeline(transaction=False)
        pipe.zadd(keys.vm_migrated, {n: now - age for n, age in zip(names, ages, strict=True)})
        pipe.hset(keys.vm_resident(host), mapping=dict.fromkeys(names, "512.0"))
        pipe.execute()
    return total


def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    keys = Keys(args.prefix)
    client = redis_from_url(url, timeout_s=120)
    client.flushdb()
    ensure_schema(client, keys)
    moved = _fill_executor_facts(client, keys, args)
    ctx = mp.get_context("spawn")
    ready, go = ctx.Barrier(args.workers + 1), ctx.Barrier(args.workers + 1)
    t0_box = ctx.Value("d", 0.0)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                WorkerArgs(
                    w, args.workers, args.hosts, args.vms_per_host, args.interval,
                    args.duration, args.history_len, url, args.prefix, args.agents_nice,
                ),
                ready, go, t0_box, out,
            ),
        )
        for w in range(args.workers)
    ]  # fmt: skip
    for p in procs:
        p.start()
    ready.wait(timeout=600)
    t0 = time.time() + 0.5
    t0_box.value = t0
    go.wait(timeout=60)
    cpu0 = _cpu_seconds(client)
    snapshots: list[float] = []
    shape = (0, 0, 0, 0, 0)
    for k in range(1, args.snapshots + 1):
        time.sleep(max(0.0, t0 + k * args.duration / (args.snapshots + 1) - time.time()))
        took, *rest = _time_snapshot(client, keys)
        snapshots.append(took)
        shape = (rest[0], rest[1], rest[2], rest[3], rest[4])
    results = [out.get(timeout=args.duration + 600) for _ in procs]
    cpu1 = _cpu_seconds(client)
    elapsed = max(time.time() - t0, args.duration)
    for p in procs:
        p.join(timeout=60)
    idle, *_ = _time_snapshot(client, keys)
    memory = client.info("memory")
    client.close()
    sent = sum(r["reports"] for r in results)
    late = [x for r in results for x in r["late_s"]]
    latency = [x for r in results for x in r["latency_ms"]]
    target = args.hosts / args.interval
    rate = sent / args.duration
    ttl = 3 * args.interval
    return {
        "hosts": args.hosts,
        "vms_per_host": args.vms_per_host,
        "interval_s": args.interval,
        "duration_s": args.duration,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "reports": sent,
        "reports_per_s": round(rate, 1),
        "target_reports_per_s": round(target, 1),
        "sustained": rate >= 0.98 * target and max(late, default=0.0) < ttl - args.interval,
        "late_s_p50": round(_pct(late, 0.5), 4),
        "late_s_p99": round(_pct(late, 0.99), 4),
        "late_s_max": round(max(late, default=0.0), 4),
        "publish_ms_p50": round(_pct(latency, 0.5), 3),
        "publish_ms_p99": round(_pct(latency, 0.99), 3),
        "report_bytes": results[0]["report_bytes"] if results else 0,
        "redis_cpu_percent": round((cpu1 - cpu0) / elapsed * 100, 1),
        "agents_cpu_percent": round(sum(r["cpu_s"] for r in results) / elapsed * 100, 1),
        "agents_nice": args.agents_nice,
        "redis_memory_mib": round(int(memory["used_memory"]) / 2**20, 1),
        "redis_rss_mib": round(int(memory["used_memory_rss"]) / 2**20, 1),
        "history_len": args.history_len,
        "snapshot_seconds": round(statistics.median(snapshots), 3) if snapshots else None,
        "snapshot_seconds_max": round(max(snapshots), 3) if snapshots else None,
        "snapshot_seconds_idle": round(idle, 3),
        "target_snapshot_seconds": SNAPSHOT_TARGET_S,
        "vms_with_executor_facts": moved,
        "moved_within_s": args.moved_within,
        "snapshot_vms_in_cooldown": shape[3],
        "snapshot_vms_with_resident_mib": shape[4],
        "snapshot_hosts": shape[0],
        "snapshot_vms": shape[1],
        "snapshot_generation": shape[2],
        "wall_s": round(elapsed, 1),
    }


def _read_only(args: argparse.Namespace, url: str) -> dict[str, Any]:
    keys = Keys(args.prefix)
    return compare(url, keys, args.hosts, args.vms_per_host, args.rounds, args.compare)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m balancer.bench ingest", description=__doc__)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--vms-per-host", type=int, default=40)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between reports")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="agent-simulating processes")
    parser.add_argument("--snapshots", type=int, default=3, help="snapshots taken under load")
    parser.add_argument("--history-len", type=int, default=DEFAULT_HISTORY_LEN)
    parser.add_argument(
        "--moved-fraction",
        type=float,
        default=0.0,
        help="share of VMs with the executor's per-VM facts (last migration, resident MiB), "
        "as in a cluster where they have migrated",
    )
    parser.add_argument(
        "--moved-within", type=float, default=86400.0,
        help="those migrations spread over the last this many seconds (a snapshot reads "
        "the ones within the policy's cool-down, 3600 s by default)",
    )  # fmt: skip
    parser.add_argument(
        "--agents-nice", type=int, default=10, choices=range(20), metavar="0..19",
        help="scheduling niceness of the simulated agents: in a cluster they run on the "
        "hosts, not beside Redis and the reader; 0 lets them compete for this machine's "
        "CPU as equals",
    )  # fmt: skip
    parser.add_argument(
        "--read-only", action="store_true",
        help="no agents: fill the store once and time --rounds snapshot reads, each in a "
        "fresh process (balancer.bench.read_compare)",
    )  # fmt: skip
    parser.add_argument(
        "--compare", type=Path, metavar="DIR", action="append", default=[],
        help="with --read-only: also time the read of the checkout in DIR (e.g. a "
        "worktree of main), alternating with this one's (repeat for several)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5, help="reads per side (--read-only)")
    parser.add_argument("--prefix", default="kvmb-bench")
    parser.add_argument("--redis", help="use this Redis (flushes its db!) instead of starting one")
    args = parser.parse_args(argv)
    if not 0.0 <= args.moved_fraction <= 1.0:
        parser.error("--moved-fraction must be between 0 and 1")
    if not args.moved_within > 0:
        parser.error("--moved-within must be positive")
    if args.compare and not args.read_only:
        parser.error("--compare needs --read-only")
    with nullcontext(args.redis) if args.redis else own_redis() as url:
        result = _read_only(args, url) if args.read_only else run(args, url)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
