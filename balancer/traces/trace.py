"""A workload trace: each VM's CPU (and memory) utilization, one sample per step.

Values are percentages of the VM's own allocation (its vCPU, its RAM), clipped to
0..100: the traces hold a few impossible samples (Bitbrains reports memory at 256,000 %,
CPU above 100 % of the provisioned cores). A set-up (``balancer.sim.workload``) turns
percentages into cores and MiB by giving each VM a size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancer.errors import TraceError

FloatMatrix = npt.NDArray[np.float64]

#: The step of every trace shipped in ../shared/data (5 minutes).
STEP_S = 300.0


@dataclass(frozen=True)
class Trace:
    #: Which loader read it: ``planetlab``, ``gcd`` or ``bitbrains``.
    kind: str
    #: Where it was read from (a folder, an archive, a file).
    source: str
    #: VM names, sorted (file names for PlanetLab and GCD).
    names: tuple[str, ...]
    #: CPU % of each VM's allocation, VMs x steps.
    cpu_pct: FloatMatrix
    #: Memory % of each VM's allocation, VMs x steps; ``None`` when the trace has none.
    mem_pct: FloatMatrix | None = None
    step_s: float = STEP_S

    @property
    def steps(self) -> int:
        return int(self.cpu_pct.shape[1])


def make_trace(
    kind: str,
    source: str,
    rows: Mapping[str, tuple[FloatMatrix, FloatMatrix | None]],
) -> Trace:
    """A trace from per-VM rows (CPU %, memory % or ``None``), sorted by VM name and cut
    to the shortest row; values clipped to 0..100 and made read-only."""
    if not rows:
        raise TraceError(f"no VM in {source}")
    names = tuple(sorted(rows))
    steps = min(len(rows[n][0]) for n in names)
    if steps < 2:
        raise TraceError(f"{source}: VMs need at least 2 samples, found {steps}")
    cpu = _frozen(np.vstack([rows[n][0][:steps] for n in names]))
    mems = [rows[n][1] for n in names]
    mem = None
    if all(m is not None for m in mems):
        mem = _frozen(np.vstack([m[:steps] for m in mems if m is not None]))
    return Trace(kind=kind, source=source, names=names, cpu_pct=cpu, mem_pct=mem)


def _frozen(matrix: FloatMatrix) -> FloatMatrix:
    out = np.clip(np.nan_to_num(matrix, nan=0.0), 0.0, 100.0)
    out.setflags(write=False)
    return out
