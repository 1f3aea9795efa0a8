"""Benchmark: the agent's CPU cost per collection.

    python -m balancer.bench agent-cost --domains 100 --collections 60

Builds a host of ``--domains`` domains for libvirt's ``test:///`` driver, wraps it so
``getAllDomainStats`` answers with every group a QEMU host gives (``StatsFaker``), and
times the agent's collector over ``--collections`` collections 10 s apart (a simulated
clock, so the XML refreshes due every minute happen as in production). CPU is this
process's (user + system): the test driver runs in-process, so its work is counted too;
on a real host libvirtd's share would be on the daemon's account instead. Target: at most
50 ms of CPU per collection for 100 domains. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import libvirt

from balancer.bench.fake_node import StatsFaker, domain_xml, node_xml
from workers.agent.collector import Collector, CollectorConfig
from workers.agent.connection import open_connection

TARGET_CPU_MS = 50.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def measure(domains: int, collections: int, interval_s: float = 10.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="agent-cost-") as tmp:
        path = Path(tmp) / "node.xml"
        path.write_text(
            node_xml([domain_xml(f"vm-{i:04d}", labels={"tier": "web"}) for i in range(domains)])
        )
        conn = open_connection(f"test://{path}")
        try:
            clock = _Clock()
            faker = StatsFaker(conn, clock=clock)
            collector = Collector(
                CollectorConfig(host_name="bench", uri=f"test://{path}", interval_s=interval_s),
                clock=clock,
            )
            collector.attach(cast(libvirt.virConnect, faker))
            start = _cpu_s()
            collector.collect()
            first_ms = (_cpu_s() - start) * 1000
            cpu_ms: list[float] = []
            wall_ms: list[float] = []
            xml_before = faker.xml_calls
            for _ in range(collections):
                clock.now += interval_s
                start, wall = _cpu_s(), time.perf_counter()
                report = collector.collect()
                cpu_ms.append((_cpu_s() - start) * 1000)
                wall_ms.append((time.perf_counter() - wall) * 1000)
            assert len(report.vms) == domains
        finally:
            conn.close()
    ordered = sorted(cpu_ms)
    return {
        "domains": domains,
        "collections": collections,
        "interval_s": interval_s,
        "first_collection_cpu_ms": round(first_ms, 2),
        "cpu_ms_mean": round(statistics.mean(cpu_ms), 2),
        "cpu_ms_p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "cpu_ms_max": round(ordered[-1], 2),
        "wall_ms_mean": round(statistics.mean(wall_ms), 2),
        "xml_reads_per_collection": round((faker.xml_calls - xml_before) / collections, 2),
        "target_cpu_ms": TARGET_CPU_MS,
        "within_target": ordered[int(0.95 * (len(ordered) - 1))] <= TARGET_CPU_MS,
        "driver": "test:/// with StatsFaker, in-process (the driver's work is counted)",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m balancer.bench agent-cost", description=__doc__
    )
    parser.add_argument("--domains", type=int, default=100)
    parser.add_argument("--collections", type=int, default=60)
    args = parser.parse_args(argv)
    json.dump(measure(args.domains, args.collections), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
