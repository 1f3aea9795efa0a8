"""What the cycle sees at a step: a snapshot of the simulated cluster.

Hosts are on or off as the plans' power actions left them (at the start: those holding
a VM); each VM is where the replay put it, with the
demand of the sample observed (the current one, or an older one when observation lags),
its dirty-page rate (proportional to its CPU, if the replay models one) and when it last
migrated (for the cooldown).
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from balancer.control.power import FloatArray
from balancer.core.models import Policy, Snapshot
from balancer.sim.workload import Workload

IntArray = npt.NDArray[np.int64]


class SnapshotView:
    """Builds the snapshot the cycle sees at a step."""

    def __init__(self, workload: Workload, policy: Policy, dirty_per_core: float) -> None:
        self._w = workload
        self._policy = policy
        self._dirty = dirty_per_core
        self._host_names = [h.name for h in workload.hosts]
        self._memory = np.array([float(v.memory_mib) for v in workload.vms])

    def at(
        self,
        k: int,
        seen: int,
        placement: IntArray,
        last_moved: FloatArray,
        powered: npt.NDArray[np.bool_] | None = None,
    ) -> Snapshot:
        """At step ``k``, showing the demand of sample ``seen``; hosts ``powered`` on
        (default: those holding a VM)."""
        w = self._w
        cpu = w.cpu[:, seen]
        n_hosts = len(w.hosts)
        load = np.bincount(placement, weights=cpu, minlength=n_hosts)
        mem = np.bincount(placement, weights=self._memory, minlength=n_hosts)
        count = np.bincount(placement, minlength=n_hosts)
        on = count > 0 if powered is None else powered | (count > 0)
        hosts = tuple(
            msgspec.structs.replace(
                h,
                state="active" if on[i] else "off",
                cpu_used=float(load[i]),
                memory_used_mib=int(mem[i]),
            )
            for i, h in enumerate(w.hosts)
        )
        vms = tuple(
            msgspec.structs.replace(
                v,
                host=self._host_names[int(placement[j])],
                cpu_used=float(cpu[j]),
                dirty_rate_mib_s=float(cpu[j]) * self._dirty,
                last_migrated_at=None if np.isnan(last_moved[j]) else float(last_moved[j]),
            )
            for j, v in enumerate(w.vms)
        )
        return Snapshot(
            version=1,
            taken_at=k * w.step_s,
            generation=k,
            hosts=hosts,
            vms=vms,
            policy=self._policy,
        )
