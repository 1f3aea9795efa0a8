"""The host's own load from psutil: CPU busy in cores, memory, load average, NIC throughput.

``read_counters()`` is the only I/O; ``usage_between(before, after)`` is pure. The first
collection (no ``before``) measures since boot, which is still a fair average.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil


@dataclass(frozen=True, slots=True)
class Counters:
    at: float
    cores: int
    #: Cumulative CPU seconds over all CPUs: busy and total.
    cpu_busy_s: float
    cpu_total_s: float
    memory_total_mib: int
    memory_used_mib: int
    load_avg: tuple[float, float, float]
    #: Cumulative bytes over physical NICs (loopback excluded).
    nic_rx_bytes: int
    nic_tx_bytes: int


@dataclass(frozen=True, slots=True)
class Usage:
    cores: int
    cpu_used: float
    memory_total_mib: int
    memory_used_mib: int
    load_avg: tuple[float, float, float]
    nic_rx_bytes_s: float
    nic_tx_bytes_s: float


def read_counters(at: float) -> Counters:
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    total = sum(t)
    # guest and guest_nice are already counted in user and nice on Linux.
    total -= getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)
    mem = psutil.virtual_memory()
    nics = psutil.net_io_counters(pernic=True)
    rx = sum(c.bytes_recv for name, c in nics.items() if name != "lo")
    tx = sum(c.bytes_sent for name, c in nics.items() if name != "lo")
    return Counters(
        at=at,
        cores=psutil.cpu_count(logical=True) or 1,
        cpu_busy_s=max(0.0, total - idle),
        cpu_total_s=total,
        memory_total_mib=mem.total // 2**20,
        memory_used_mib=(mem.total - mem.available) // 2**20,
        load_avg=os.getloadavg(),
        nic_rx_bytes=rx,
        nic_tx_bytes=tx,
    )


def usage_between(before: Counters | None, after: Counters) -> Usage:
    if before is None:
        busy, total, rx, tx, elapsed = after.cpu_busy_s, after.cpu_total_s, 0, 0, 0.0
    else:
        busy = after.cpu_busy_s - before.cpu_busy_s
        total = after.cpu_total_s - before.cpu_total_s
        rx = after.nic_rx_bytes - before.nic_rx_bytes
        tx = after.nic_tx_bytes - before.nic_tx_bytes
        elapsed = after.at - before.at
    fraction = min(1.0, max(0.0, busy / total)) if total > 0 else 0.0
    return Usage(
        cores=after.cores,
        cpu_used=fraction * after.cores,
        memory_total_mib=after.memory_total_mib,
        memory_used_mib=after.memory_used_mib,
        load_avg=after.load_avg,
        nic_rx_bytes_s=max(0, rx) / elapsed if elapsed > 0 else 0.0,
        nic_tx_bytes_s=max(0, tx) / elapsed if elapsed > 0 else 0.0,
    )
