"""Benchmark: how long does one cycle of the daemon take on a large fleet?

    python -m balancer.bench daemon --hosts 1000 --vms-per-host 20 --cycles 5
    python -m balancer.bench daemon --hosts 10000 --vms-per-host 40 --cycles 3

Starts its own redis-server, the simulated fleet (``balancer fleet sim``, VMs spread over
every host so the first cycles have packing to plan) and one Celery worker on it, as
processes; then runs ``--cycles`` cycles of the daemon's loop in this process, through
its real ports (the snapshot from Redis, the per-VM history — filled with a whole window
of samples first, as a daemon that has run for an hour has —, the cycle store, plans sent
to Celery, the leader lease renewed by its thread). Every cycle decides anew: a plan sent
is cancelled at once (the worker refuses its moves) so that the next cycle plans instead
of following it — the cost measured is that of a cycle that plans, the daemon's most
expensive kind.

Prints one JSON object: per phase (snapshot, history, decide, send) and in all, the
median, p95 and max seconds; moves planned per cycle; the daemon's peak RSS (this
process; the fleet and the worker are others); the fleet's size; the machine (cores,
model, load average, and a fixed pure-Python workload's seconds to compare machines).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgspec

from balancer.bench.fleet import machine
from balancer.bench.own_redis import own_redis
from balancer.control.loop import Ports, run_cycle
from balancer.control.records import CycleRecord
from balancer.control.settings import ControlSettings
from balancer.daemon.celery_sink import read_flight
from balancer.daemon.leader import LeaderElector
from balancer.daemon.runner import redis_ports
from balancer.fleet.clock import FleetClock
from balancer.launch.processes import Processes, balancer_argv
from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from workers.celery_app import make_app
from workers.dispatch import cancel_plan_moves

PHASES = ("snapshot", "history", "decide", "send")
READY_TIMEOUT_S = 900.0


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "max": round(ordered[-1], 3),
    }


def _wait(what: str, check: Any, procs: Processes, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        dead = [p.name for p in procs.started if not p.alive()]
        if dead or time.monotonic() > deadline:
            logs = {p.name: p.log_text()[-2000:] for p in procs.started}
            raise SystemExit(f"{what}: {'exited: ' + ', '.join(dead) if dead else 'timed out'}"
                             f"\n{json.dumps(logs, indent=1)}")  # fmt: skip
        time.sleep(0.2)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m balancer.bench daemon",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms-per-host", type=int, default=20)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--interval", type=float, default=60.0, help="the fleet's report interval (s)")
    args = ap.parse_args(argv)
    if min(args.hosts, args.vms_per_host, args.cycles) < 1:
        ap.error("--hosts, --vms-per-host and --cycles must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp, own_redis() as url:
        procs = Processes(Path(tmp), {**os.environ, "BALANCER_REDIS_URL": url})
        try:
            out = _run(args, url, procs)
        finally:
            procs.stop_all()
    print(json.dumps(out, indent=2))
    return 0


def _run(args: argparse.Namespace, url: str, procs: Processes) -> dict[str, Any]:
    keys = Keys()
    vms = args.hosts * args.vms_per_host
    client = redis_from_url(url, timeout_s=120)
    started = time.perf_counter()
    procs.start("fleet", balancer_argv(
        "fleet", "sim", "--redis", url, "--hosts", str(args.hosts), "--vms", str(vms),
        "--seed", str(args.seed), "--placement", "spread", "--interval", str(args.interval),
    ))  # fmt: skip
    _wait("the fleet's first round", lambda: client.scard(keys.hosts) >= args.hosts, procs)
    fleet_s = time.perf_counter() - started
    worker = procs.start("worker", balancer_argv(
        "worker", "--redis", url, "--hypervisor", "sim", "--concurrency", "4", "--",
        "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ))  # fmt: skip
    _wait("the worker", lambda: "ready." in worker.log_text(), procs, 120)
    clock = FleetClock.from_redis(client, keys)
    settings = ControlSettings()
    elector = LeaderElector(redis_from_url(url, timeout_s=30), keys, "bench")
    if elector.step() is None:
        raise SystemExit("could not take the lead of an empty store")
    stop = threading.Event()
    campaign = threading.Thread(target=elector.run, args=(stop,), daemon=True)
    campaign.start()  # as in the daemon: the lease is renewed while a cycle runs
    app = make_app(url)
    ports = redis_ports(client, app, keys, clock, settings, elector)
    _fill_history(ports, settings, clock.now())
    records: list[CycleRecord] = []
    try:
        for _ in range(args.cycles):
            record = run_cycle(ports, settings, leader="bench", timer=time.perf_counter)
            records.append(record)
            _cancel_flight(client, keys)
            client.set(keys.memory, b"{}")  # each cycle plans as the first one did
    finally:
        stop.set()
        campaign.join()
        app.close()
    client.close()
    return {
        "benchmark": "daemon",
        "hosts": args.hosts,
        "vms": vms,
        "cycles": len(records),
        "fleet_start_seconds": round(fleet_s, 1),
        "cycle_seconds": {
            "total": _stats([r.seconds for r in records]),
            **{p: _stats([r.phases.get(p, 0.0) for r in records]) for p in PHASES},
        },
        "outcomes": [r.outcome for r in records],
        "moves_planned": [r.moves_planned for r in records],
        "power_actions": [len(r.power_on) + len(r.power_off) for r in records],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": machine(),
        "python": sys.version.split()[0],
    }


def _fill_history(ports: Ports, settings: ControlSettings, now: float) -> None:
    """A full window of per-VM samples, as a daemon that has run for a while has: the
    history phase reads as many as it will in steady state."""
    snapshot = ports.snapshots.snapshot(now)
    samples = round(settings.history_s() / settings.sample_every_s)
    for k in range(samples, 0, -1):
        earlier = msgspec.structs.replace(snapshot, taken_at=now - k * settings.sample_every_s)
        ports.history.record(earlier)


def _cancel_flight(client: Any, keys: Keys) -> None:
    """Cancel the plan just sent and forget it: the next cycle plans, not follows."""
    doc = read_flight(client, keys)
    if doc is not None:
        cancel_plan_moves(client, keys, [*doc.moves.values(), *doc.power.values()])
        client.delete(keys.plan)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
