"""Benchmark: how long does a scrape of ``balancer exporter`` take on a large cluster?

    python -m balancer.bench exporter --hosts 10000 --vms-per-host 40 --scrapes 10

Starts its own redis-server, the simulated fleet (``balancer fleet sim``: every host's
report published each ``--interval``, so heartbeats hold and agents write while the
exporter reads), fills the executor's streams as a busy cluster's are full (10,000 ended
migrations, power actions, a few running migrations), then starts ``balancer exporter``
as its own process and scrapes ``/metrics`` over HTTP ``--scrapes`` times, ``--pause``
seconds apart (the first scrape also reads the whole outcome stream; it is reported
apart). Prints one JSON object: ``scrape_seconds`` (median, max, first), the seconds of
the exporter's last read of the hosts (done every 10 s between scrapes), the body's size
and series, the exporter's resident memory (peak and now), the fleet's size and the
machine (cores, model, load average, a fixed pure-Python workload's seconds to compare
machines). The target is at most 1 s per scrape.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
import redis

from balancer.bench.fleet import machine
from balancer.bench.own_redis import own_redis
from balancer.launch.processes import Processes, balancer_argv
from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from balancer.state.migrations import Actual, MigrationRecord, Predicted, Result

READY_TIMEOUT_S = 900.0
OUTCOMES = 10_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: Any, procs: Processes, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        for p in procs.started:
            if not p.alive():
                raise SystemExit(f"{p.name} died:\n{p.log_text()[-3000:]}")
        time.sleep(0.5)


def seed_streams(client: redis.Redis, keys: Keys, hosts: int, rng: random.Random) -> None:
    """A busy cluster's executor records: a full outcome stream, power actions, five
    migrations under way."""
    modes = ("live", "live", "live", "non-live", "offline", "live-postcopy")
    reasons = ("balance", "consolidation", "evacuation", "relief", "replacement")
    results: tuple[Result, ...] = ("completed",) * 17 + ("failed", "fenced", "cancelled")
    now = time.time()
    with client.pipeline(transaction=False) as pipe:
        for i in range(OUTCOMES):
            result = rng.choice(results)
            predicted = rng.uniform(5, 120)
            record = MigrationRecord(
                id=f"m-{i}", plan_id=f"p-{i // 40}", vm=f"vm-{rng.randrange(hosts * 40)}",
                source=f"h{rng.randrange(hosts)}", dest=f"h{rng.randrange(hosts)}",
                mode=rng.choice(modes), reason=rng.choice(reasons), epoch=3,
                started_at=now - 86400 + i * 8, finished_at=now - 86400 + i * 8 + predicted,
                result=result, finished_by=rng.choice(("", "", "", "downtime", "suspend")),
                predicted=Predicted(duration_s=predicted, downtime_ms=100, bytes=2**31),
                actual=Actual(duration_s=predicted * rng.uniform(0.7, 1.5),
                              downtime_ms=rng.uniform(20, 400), bytes=2**31)
                if result == "completed" else None,
            )  # fmt: skip
            pipe.xadd(keys.outcomes, {"outcome": msgspec.json.encode(record)})
        for i in range(200):
            doc = {"id": f"pw-{i}", "plan_id": "p", "host": f"h{i}", "action": "off",
                   "reason": "idle", "epoch": 3, "at": now - 3600 + i,
                   "result": "completed"}  # fmt: skip
            pipe.xadd(keys.power_log, {"record": json.dumps(doc)})
        for i in range(5):
            running = MigrationRecord(
                id=f"r-{i}", vm=f"vm-{i}", source="h1", dest=f"h{i + 2}", mode="live",
                reason="balance", epoch=3, started_at=now - 30, result="running",
            )  # fmt: skip
            pipe.hset(keys.running, running.id, msgspec.json.encode(running))
        pipe.execute()


def _rss_mib(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return {"peak": out.get("VmHWM", 0.0), "now": out.get("VmRSS", 0.0)}


def _scrape(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body: bytes = response.read()
    return time.perf_counter() - started, body


def run(args: argparse.Namespace, url: str, procs: Processes) -> dict[str, Any]:
    keys = Keys()
    vms = args.hosts * args.vms_per_host
    client = redis_from_url(url, timeout_s=120)
    procs.start("fleet", balancer_argv(
        "fleet", "sim", "--redis", url, "--hosts", str(args.hosts), "--vms", str(vms),
        "--seed", str(args.seed), "--placement", "spread", "--interval", str(args.interval),
    ))  # fmt: skip
    _wait("the fleet's first round", lambda: client.scard(keys.hosts) >= args.hosts, procs)
    seed_streams(client, keys, args.hosts, random.Random(args.seed))
    port = _free_port()
    argv = balancer_argv("exporter", "--redis", url, "--port", str(port),
                         "--address", "127.0.0.1", "--clock", "fleet")  # fmt: skip
    if args.per_vm:
        argv.append("--per-vm")
    exporter = procs.start("exporter", argv)
    metrics_url = f"http://127.0.0.1:{port}/metrics"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return True
        except OSError:
            return False

    _wait("the exporter", answers, procs, 120)
    first_s, body = _scrape(metrics_url)
    times: list[float] = []
    for _ in range(args.scrapes):
        time.sleep(args.pause)
        seconds, body = _scrape(metrics_url)
        times.append(seconds)
    lines = [ln for ln in body.decode().splitlines() if ln and not ln.startswith("#")]
    read_s = next(
        float(ln.split()[-1]) for ln in lines if ln.startswith("kvmb_store_read_seconds ")
    )
    rss = _rss_mib(exporter.pid)
    client.close()
    return {
        "benchmark": "exporter",
        "hosts": args.hosts,
        "vms": vms,
        "per_vm": args.per_vm,
        "scrapes": len(times),
        "scrape_seconds": {
            "median": round(statistics.median(times), 3),
            "max": round(max(times), 3),
            "first": round(first_s, 3),
        },
        "target_seconds": 1.0,
        "host_read_seconds": round(read_s, 3),
        "body_mib": round(len(body) / 2**20, 2),
        "series": len(lines),
        "exporter_rss_mib": rss,
        "machine": machine(),
        "python": sys.version.split()[0],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m balancer.bench exporter", description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms-per-host", type=int, default=20)
    parser.add_argument("--scrapes", type=int, default=10)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between scrapes")
    parser.add_argument("--interval", type=float, default=60.0, help="the fleet's report interval")
    parser.add_argument("--per-vm", action="store_true", help="the exporter with --per-vm")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.vms_per_host < 1 or args.scrapes < 1:
        print("--hosts, --vms-per-host and --scrapes must be at least 1", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kvmb-bench-exporter-") as tmp, own_redis() as url:
        procs = Processes(Path(tmp))
        try:
            result = run(args, url, procs)
        finally:
            procs.stop_all()
    print(json.dumps(result, indent=2))
    return 0
