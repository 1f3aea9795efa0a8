"""Google cluster data (2011), per-VM CPU and memory, read in place from its archive.

``GCD_VMs.tar.gz`` holds one member per VM (``GCD_VMs/vm_<jobid>_<n>``), 288 lines of
``cpu% mem%`` at 300 s. The archive is read with ``tarfile`` where it lies; nothing is
extracted to disk.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from balancer.errors import TraceError
from balancer.traces.trace import FloatMatrix, Trace, make_trace

ARCHIVE = "GCD_VMs.tar.gz"


def load_trace(path: str | Path) -> Trace:
    """The archive itself, or a folder holding ``GCD_VMs.tar.gz``."""
    archive = Path(path)
    if archive.is_dir():
        archive = archive / ARCHIVE
    rows: dict[str, tuple[FloatMatrix, FloatMatrix | None]] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                data = tar.extractfile(member)
                if data is None:
                    continue
                rows[PurePosixPath(member.name).name] = _columns(member.name, data.read())
    except (OSError, tarfile.TarError) as exc:
        raise TraceError(f"cannot read the GCD archive {archive}: {exc}") from None
    return make_trace("gcd", str(archive), rows)


def _columns(name: str, data: bytes) -> tuple[FloatMatrix, FloatMatrix | None]:
    try:
        values = np.array(data.split(), dtype=np.float64)
    except ValueError:
        raise TraceError(f"{name}: expected lines of 'cpu% mem%'") from None
    if values.size % 2:
        raise TraceError(f"{name}: expected lines of 'cpu% mem%'")
    pairs = values.reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]
