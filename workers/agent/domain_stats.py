"""Per-VM load from one ``getAllDomainStats`` record (pure: a dict in, numbers out).

CPU used is the growth of ``cpu.time`` (nanoseconds of host CPU the whole QEMU process
used) over the wall time between two collections, in cores. Memory is the guest's current
balloon size (``balloon.current``; the XML's ``currentMemory`` when the balloon says
nothing), and the QEMU process's RSS (``balloon.rss``) on the side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

VmState = Literal["running", "paused", "shutoff"]

#: GROUPS requested in the one getAllDomainStats call: state, cpu, balloon, vcpu, block,
#: dirtyrate (VIR_DOMAIN_STATS_* bits; drivers without a group just leave it out).
STATS_GROUPS = 1 | 2 | 4 | 8 | 32 | 512

# virDomainState: NOSTATE, RUNNING, BLOCKED, PAUSED, SHUTDOWN, SHUTOFF, CRASHED, PMSUSPENDED
_STATE: dict[int, VmState] = {
    0: "running",
    1: "running",
    2: "running",
    3: "paused",
    4: "running",
    5: "shutoff",
    6: "shutoff",
    7: "paused",
}
DIRTYRATE_MEASURED = 2


@dataclass(frozen=True, slots=True)
class DomainSample:
    state: VmState
    cpu_time_ns: int | None
    vcpus: int | None
    balloon_kib: int | None
    rss_kib: int | None
    #: Dirty rate (MiB/s) of a finished measurement and when it started (epoch s).
    dirty_rate_mib_s: float | None
    dirty_rate_started: int | None
    #: Disk capacity in bytes by target device and by source path (block.N.name and
    #: block.N.path → block.N.capacity).
    block_capacity: dict[str, int]


def _int(stats: Mapping[str, object], key: str) -> int | None:
    v = stats.get(key)
    return int(v) if isinstance(v, int | float) else None


def parse_stats(stats: Mapping[str, object]) -> DomainSample:
    state = _STATE.get(_int(stats, "state.state") or 0, "running")
    dirty = None
    started = None
    if _int(stats, "dirtyrate.calc_status") == DIRTYRATE_MEASURED:
        dirty = float(_int(stats, "dirtyrate.megabytes_per_second") or 0)
        started = _int(stats, "dirtyrate.calc_start_time")
    capacity: dict[str, int] = {}
    for i in range(_int(stats, "block.count") or 0):
        cap = _int(stats, f"block.{i}.capacity")
        if cap is None:
            continue
        for key in (stats.get(f"block.{i}.name"), stats.get(f"block.{i}.path")):
            if isinstance(key, str) and key:
                capacity[key] = cap
    return DomainSample(
        state=state,
        cpu_time_ns=_int(stats, "cpu.time"),
        vcpus=_int(stats, "vcpu.current"),
        balloon_kib=_int(stats, "balloon.current"),
        rss_kib=_int(stats, "balloon.rss"),
        dirty_rate_mib_s=dirty,
        dirty_rate_started=started,
        block_capacity=capacity,
    )


def cpu_cores_used(previous: tuple[int, float] | None, cpu_time_ns: int | None, at: float) -> float:
    """Cores used since ``previous`` = (cpu.time, when); 0 without a usable previous sample
    (first sight, or the counter went back because the VM restarted)."""
    if previous is None or cpu_time_ns is None:
        return 0.0
    before_ns, before_at = previous
    elapsed = at - before_at
    if elapsed <= 0 or cpu_time_ns < before_ns:
        return 0.0
    return (cpu_time_ns - before_ns) / 1e9 / elapsed
