"""Migration benchmark in the lab: predicted (pre-copy model) vs measured duration and
downtime of real live migrations, and a non-converging guest with and without the ladder.

    python -m balancer.bench migrate --cases 160:4,160:8,192:16 --bandwidth 32

Each case migrates its guest twice: lab-a → lab-b, whose completed job stats give the
guest's non-zero memory (zero pages travel as flags), then the measured move back, whose
prediction uses that figure (``precopy(resident_mib=…)``; ``predicted_s_all_memory`` is
the prediction without it).

Needs root and the lab (docs/lab.md); brings up its own two hosts and tears them down.
Prints one JSON object: cases[] {memory_mib, dirty_rate_mib_s, bandwidth_mib_s,
predicted_s, measured_s, predicted_downtime_ms, measured_downtime_ms, step},
median_duration_error (|predicted − measured| / measured) and nonconverging {plain_completed,
plain_seconds, ladder_completed, ladder_seconds, ladder_step}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import fakeredis
import msgspec

from balancer.core.migration_model import precopy
from balancer.errors import MigrationAbortedError
from balancer.lab import watchdog
from balancer.lab.lab import Lab
from balancer.lab.paths import labs_root
from balancer.lab.procs import ProcessId
from balancer.lab.specs import GUEST_BASE_MIB, GuestSpec, default_host_specs
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.libvirt_hv import LibvirtHypervisor
from workers.executor.machine import Executor
from workers.executor.order import LadderConfig, MigrationOrder
from workers.executor.records import Actual, MemoryRecorder, MigrationRecord

INITIAL_DOWNTIME_MS = 100
MIB = 1024 * 1024


def _executor(hv: LibvirtHypervisor) -> Executor:
    client = fakeredis.FakeRedis()
    return Executor(hv, Fence(client), Coordinator(client), MemoryRecorder(),
                    clock=time.time, sleep=time.sleep)  # fmt: skip


def _actual(record: MigrationRecord) -> Actual:
    if record.actual is None:
        raise RuntimeError(f"{record.vm}: {record.result} without measures ({record.detail})")
    return record.actual


def _case(
    lab: Lab, hv: LibvirtHypervisor, n: int, mem: int, rate: int, bw: float
) -> dict[str, Any]:
    """One guest: a first move lab-a → lab-b learns its non-zero memory from the completed
    job's zero-page count (the outcome's ``actual.nonzero_bytes``); the measured move
    lab-b → lab-a is predicted with it beforehand."""
    wss = min(mem - GUEST_BASE_MIB, 64)
    name = f"bench{n}-{os.getpid() % 10000}"
    lab.add_guest("lab-a", GuestSpec(name=name, memory_mib=mem, dirty_rate_mib_s=rate,
                                     working_set_mib=wss))  # fmt: skip
    try:
        ladder = LadderConfig(initial_downtime_ms=INITIAL_DOWNTIME_MS, timeout_min_s=300)
        order = MigrationOrder(vm=name, source="lab-a", dest="lab-b", mode="live",
                               memory_mib=mem, bandwidth_mib_s=bw, ladder=ladder)  # fmt: skip
        first = _executor(hv).run(order, token=name + "-1")
        nonzero = _actual(first).nonzero_bytes
        resident = nonzero / MIB if nonzero is not None else None
        pc = precopy(mem, rate, bw, INITIAL_DOWNTIME_MS, wss, resident_mib=resident)
        full = precopy(mem, rate, bw, INITIAL_DOWNTIME_MS, wss)
        back = msgspec.structs.replace(order, source="lab-b", dest="lab-a")
        out = _executor(hv).run(back, token=name + "-2")
        return {
            "memory_mib": mem,
            "dirty_rate_mib_s": rate,
            "bandwidth_mib_s": bw,
            "nonzero_mib": round(resident, 1) if resident is not None else None,
            "predicted_s": _rounded(pc.duration_s, pc.converges),
            "predicted_s_all_memory": _rounded(full.duration_s, full.converges),
            "measured_s": _actual(out).duration_s,
            "predicted_downtime_ms": _rounded(pc.downtime_s * 1000, pc.converges, 1),
            "measured_downtime_ms": _actual(out).downtime_ms,
            "step": out.finished_by or "plain",
        }
    finally:
        lab.remove_guest(name)


def _rounded(x: float, known: bool, digits: int = 3) -> float | None:
    return round(x, digits) if known else None


def _nonconverging(lab: Lab, hv: LibvirtHypervisor, plain_timeout_s: float) -> dict[str, Any]:
    name = f"benchnc-{os.getpid() % 10000}"
    lab.add_guest("lab-a", GuestSpec(name=name, memory_mib=192, dirty_rate_mib_s=48,
                                     working_set_mib=112))  # fmt: skip
    try:
        base = MigrationOrder(vm=name, source="lab-a", dest="lab-b", mode="live",
                              memory_mib=192, bandwidth_mib_s=16)  # fmt: skip
        plain = LadderConfig(rungs=(), timeout_min_s=plain_timeout_s, timeout_s_per_gib=0)
        t0 = time.monotonic()
        try:
            _executor(hv).run(_with(base, plain), token=name + "p")
            plain_done = True
        except MigrationAbortedError:
            plain_done = False
        plain_s = time.monotonic() - t0
        t0 = time.monotonic()
        out = _executor(hv).run(_with(base, LadderConfig(step_grace_s=5)), token=name + "l")
        return {
            "plain_completed": plain_done,
            "plain_seconds": round(plain_s, 1),
            "ladder_completed": out.result == "completed",
            "ladder_seconds": round(time.monotonic() - t0, 1),
            "ladder_step": out.finished_by,
        }
    finally:
        lab.remove_guest(name)


def _with(order: MigrationOrder, ladder: LadderConfig) -> MigrationOrder:
    return msgspec.structs.replace(order, ladder=ladder)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m balancer.bench migrate")
    p.add_argument("--cases", default="160:4,160:8,192:16", help="MEMORY_MIB:DIRTY_MIB_S,...")
    p.add_argument("--bandwidth", type=float, default=32.0, help="Migration cap, MiB/s.")
    p.add_argument("--plain-timeout", type=float, default=60.0)
    args = p.parse_args(argv)
    cases = [tuple(int(x) for x in c.split(":")) for c in args.cases.split(",")]
    root = labs_root() / f"bench-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    guard = watchdog.start(root)
    lab = Lab(root)
    try:
        lab.up(default_host_specs(2), owner=ProcessId.of(os.getpid()))
        hv = LibvirtHypervisor({h: lab.host(h).uri for h in ("lab-a", "lab-b")})
        try:
            results = [_case(lab, hv, i, m, r, args.bandwidth) for i, (m, r) in enumerate(cases)]
            nc = _nonconverging(lab, hv, args.plain_timeout)
        finally:
            hv.close()
    finally:
        try:
            lab.down()
        finally:
            watchdog.stop(guard)
    errors = [
        abs(c["predicted_s"] - c["measured_s"]) / c["measured_s"]
        for c in results
        if c["predicted_s"] is not None
    ]
    median = round(statistics.median(errors), 3) if errors else None
    doc = {"cases": results, "median_duration_error": median, "nonconverging": nc}
    print(json.dumps(doc, indent=2))
    return 0
