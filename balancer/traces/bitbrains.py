"""Bitbrains GWA-T-12 "Rnd" (business-critical VMs), CPU and memory per VM.

One line per VM: ``<vm> cpu%,mem% cpu%,mem% ...`` (288 pairs at 300 s) in
``cpu_mem_pct_288x500.txt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from balancer.errors import TraceError
from balancer.traces.trace import FloatMatrix, Trace, make_trace

FILE = "cpu_mem_pct_288x500.txt"


def load_trace(path: str | Path) -> Trace:
    """The file itself, or a folder holding ``cpu_mem_pct_288x500.txt``."""
    file = Path(path)
    if file.is_dir():
        file = file / FILE
    try:
        text = file.read_text()
    except OSError as exc:
        raise TraceError(f"cannot read the Bitbrains trace {file}: {exc.strerror}") from None
    rows: dict[str, tuple[FloatMatrix, FloatMatrix | None]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        name, _, samples = line.strip().partition(" ")
        if not name:
            continue
        try:
            values = np.array(samples.replace(",", " ").split(), dtype=np.float64)
        except ValueError:
            raise TraceError(f"line {number}: expected 'cpu%,mem%' pairs", f"{file}") from None
        if values.size % 2:
            raise TraceError(f"line {number}: an odd number of values", f"{file}")
        pairs = values.reshape(-1, 2)
        rows[name] = (pairs[:, 0], pairs[:, 1])
    return make_trace("bitbrains", str(file), rows)
