"""Each simulated VM's CPU load at any fleet time, from the trace (pure, vectorized).

VM v follows trace row ``row[v]`` shifted by ``offset[v]`` samples: at fleet time t its
load is the row's CPU % at position (t − t0) / step + offset, linear between samples and
wrapping round the trace's end (a day repeats), times the VM's size in cores. The fleet
computes every VM's load at once for a round of reports (``LoadModel``); a worker computes
one VM's (its dirty rate when a migration starts) with the same function from the same
stored trace, so both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TraceArray = npt.NDArray[np.float32]


def cores_at(
    trace_pct: TraceArray,
    step_s: float,
    t0: float,
    t: float,
    rows: IntArray,
    offsets: FloatArray,
    sizes: FloatArray,
    scale: float = 1.0,
) -> FloatArray:
    """The load (cores) at fleet time ``t`` of VMs following ``rows`` shifted by
    ``offsets`` samples, of ``sizes`` cores at 100 %; ``trace_pct`` is rows x samples of
    CPU %, sample 0 at fleet time ``t0``, ``step_s`` apart. ``scale`` multiplies the
    trace's CPU %, which a VM never uses beyond 100 % (its vCPUs are all it has)."""
    steps = trace_pct.shape[1]
    pos = (t - t0) / step_s + offsets
    floor = np.floor(pos)
    frac = pos - floor
    i0 = floor.astype(np.int64) % steps
    i1 = (i0 + 1) % steps
    a = trace_pct[rows, i0].astype(np.float64)
    b = trace_pct[rows, i1].astype(np.float64)
    pct = (a + (b - a) * frac) * scale
    out: FloatArray = np.minimum(pct, 100.0) / 100.0 * sizes
    return out


def vm_cores(
    trace_pct: TraceArray,
    step_s: float,
    t0: float,
    t: float,
    row: int,
    offset: float,
    size: float,
    scale: float = 1.0,
) -> float:
    """One VM's load (cores) at ``t``: ``cores_at`` for one row."""
    one = cores_at(
        trace_pct, step_s, t0, t, np.array([row]), np.array([offset]), np.array([size]), scale
    )
    return float(one[0])


@dataclass(frozen=True)
class LoadModel:
    """Every VM of the fleet: its row, offset and size, in VM order."""

    trace_pct: TraceArray
    step_s: float
    t0: float
    rows: IntArray
    offsets: FloatArray
    sizes: FloatArray

    def cores(self, t: float, which: IntArray | None = None, scale: float = 1.0) -> FloatArray:
        """The load (cores) at fleet time ``t`` of VMs ``which`` (indices; all: ``None``),
        the trace's CPU % times ``scale``."""
        if which is None:
            rows, offsets, sizes = self.rows, self.offsets, self.sizes
        else:
            rows, offsets, sizes = self.rows[which], self.offsets[which], self.sizes[which]
        return cores_at(self.trace_pct, self.step_s, self.t0, t, rows, offsets, sizes, scale)
