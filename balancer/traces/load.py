"""``load_trace(path)``: read any shipped trace, its kind told by what the path holds.

- a folder of plain files, one per VM → PlanetLab day;
- ``GCD_VMs.tar.gz``, or a folder holding it → Google cluster data;
- ``cpu_mem_pct_288x500.txt``, or a folder holding it → Bitbrains Rnd.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from balancer.errors import TraceError
from balancer.traces import bitbrains, gcd, planetlab
from balancer.traces.trace import Trace

#: Trace kind -> its loader.
LOADERS: dict[str, Callable[[str | Path], Trace]] = {
    "planetlab": planetlab.load_trace,
    "gcd": gcd.load_trace,
    "bitbrains": bitbrains.load_trace,
}


def trace_kind(path: str | Path) -> str:
    p = Path(path)
    if p.is_dir():
        if (p / gcd.ARCHIVE).is_file():
            return "gcd"
        if (p / bitbrains.FILE).is_file():
            return "bitbrains"
        return "planetlab"
    if p.name.endswith((".tar.gz", ".tgz")):
        return "gcd"
    if p.is_file():
        return "bitbrains"
    raise TraceError(f"no trace at {p}")


def load_trace(path: str | Path) -> Trace:
    return LOADERS[trace_kind(path)](path)
