"""``python -m balancer.bench ingest --read-only``: the snapshot read alone, and side by
side with another checkout of this repository (``--compare DIR``, e.g. a worktree of
main) in one run.

One redis-server is filled with one report per host (``simulated_report``, as the agents
publish it); then each round times ``snapshot_from_redis`` once in a fresh process of
this checkout and, with ``--compare``, once in a fresh process of each other checkout,
alternating (so all see the same machine load). A fresh process per read: neither side
gains from the other's warmed caches or garbage collector state. Prints JSON: the
medians and every time of each side (wall clock and the reader's CPU), and the seconds
of a 10-million-step empty Python loop on this machine (CPU time,
``balancer.bench.machine``: to compare results from different machines).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from balancer.bench.machine import loop_10m_s
from balancer.bench.sim_reports import simulated_report
from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from balancer.state.publish import ensure_schema, publish_reports

#: What a side runs: only APIs both checkouts have (``snapshot_from_redis``, ``Keys``,
#: ``redis_from_url``); prints the seconds of one read (wall clock, and the reader's own
#: CPU: less disturbed by other processes on a busy machine; Redis's work is not in it)
#: and the hosts and VMs it saw.
READ_ONCE = """
import json, sys, time
from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from balancer.state.snapshot_read import snapshot_from_redis
client = redis_from_url(sys.argv[1], timeout_s=300)
start, cpu = time.perf_counter(), time.process_time()
snap = snapshot_from_redis(client, keys=Keys(sys.argv[2]))
took, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"s": took, "cpu_s": cpu, "hosts": len(snap.hosts), "vms": len(snap.vms)}))
"""
_BATCH = 200


def fill(url: str, keys: Keys, hosts: int, vms_per_host: int) -> None:
    """One report per host, published as the agents publish them."""
    client = redis_from_url(url, timeout_s=120)
    try:
        client.flushdb()
        ensure_schema(client, keys)
        rng, now = random.Random(0), time.time()
        for first in range(0, hosts, _BATCH):
            batch = range(first, min(hosts, first + _BATCH))
            reports = [simulated_report(i, vms_per_host, now, rng) for i in batch]
            publish_reports(client, keys, reports, history_len=0)
    finally:
        client.close()


def _python_of(checkout: Path) -> str:
    own = checkout / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def read_once(checkout: Path, url: str, keys: Keys) -> dict[str, Any]:
    """One snapshot read by ``checkout``'s code, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [_python_of(checkout), "-c", READ_ONCE, url, keys.prefix],
        cwd=checkout,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _side(checkout: Path, runs: list[dict[str, Any]]) -> dict[str, Any]:
    times, cpu = [r["s"] for r in runs], [r["cpu_s"] for r in runs]
    return {
        "checkout": str(checkout),
        "commit": _commit(checkout),
        "median_s": round(statistics.median(times), 3),
        "times_s": [round(t, 3) for t in times],
        "cpu_median_s": round(statistics.median(cpu), 3),
        "cpu_s": [round(t, 3) for t in cpu],
        "hosts": runs[-1]["hosts"],
        "vms": runs[-1]["vms"],
    }


def _git(checkout: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=checkout, check=False, capture_output=True, text=True)
    return done.stdout.strip()


def _commit(checkout: Path) -> str:
    """The checkout's commit, ``+changes`` when tracked files differ from it."""
    changed = _git(checkout, "status", "--porcelain", "--untracked-files=no")
    return _git(checkout, "rev-parse", "--short", "HEAD") + ("+changes" if changed else "")


def compare(
    url: str, keys: Keys, hosts: int, vms_per_host: int, rounds: int, others: list[Path]
) -> dict[str, Any]:
    """Fill the store, then ``rounds`` reads per side, in turn (the order reversed every
    other round)."""
    here = Path(__file__).resolve().parents[2]
    fill(url, keys, hosts, vms_per_host)
    sides = [here, *(o.resolve() for o in others)]
    runs: list[list[dict[str, Any]]] = [[] for _ in sides]
    for k in range(rounds):
        order = range(len(sides)) if k % 2 == 0 else reversed(range(len(sides)))
        for i in order:
            runs[i].append(read_once(sides[i], url, keys))
    out: dict[str, Any] = {
        "hosts": hosts,
        "vms_per_host": vms_per_host,
        "rounds": rounds,
        "cpu_count": os.cpu_count(),
        "loop_10m_s": loop_10m_s(),
        "this": _side(here, runs[0]),
    }
    out["compare"] = [_side(side, run) for side, run in zip(sides[1:], runs[1:], strict=True)]
    return out
