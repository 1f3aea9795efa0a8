"""What a cycle knows when it decides: the snapshot, each VM's past demand, the VMs
under way, and the operators' intents."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from balancer.control.intents import Intents
from balancer.core.models import Snapshot

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Situation:
    """``now`` is ``snapshot.taken_at``."""

    snapshot: Snapshot
    #: Rows: ``snapshot.vms``; columns ``step_s`` apart, oldest first; the last is now.
    history: FloatArray
    #: Spacing of the history's samples (300 in the simulator, 60 in the daemon).
    step_s: float
    #: VMs migrating now: never moved by this cycle.
    busy: frozenset[str] = frozenset()
    intents: Intents = field(default_factory=Intents)
