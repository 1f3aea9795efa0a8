"""The fleet process's picture of its hosts and VMs: fixed facts, each VM's load model,
and where each VM is, mirrored from the store (``sim:placement`` at the start, then the
landings of ``sim:moves``), indexed for building a round of reports fast."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

from balancer.core.models import Host, Vm
from balancer.fleet.config import FleetInfo
from balancer.fleet.facts import VmFacts, vm_struct
from balancer.fleet.load import LoadModel


@dataclass
class FleetModel:
    info: FleetInfo
    hosts: tuple[Host, ...]
    vms: tuple[VmFacts, ...]
    load: LoadModel
    #: Memory (MiB) and hotness per VM, in VM order.
    memory: npt.NDArray[np.int64]
    hot: npt.NDArray[np.bool_]
    #: Each VM as a report shows it, on its current host, idle.
    base: list[Vm]
    #: The VMs (indices, sorted) on each host.
    members: list[list[int]]
    host_index: dict[str, int]
    vm_index: dict[str, int]
    #: The last landing of ``sim:moves`` the placement includes ("0-0": none).
    moves_id: str = "0-0"

    @classmethod
    def build(
        cls,
        info: FleetInfo,
        trace_pct: npt.NDArray[np.float32],
        hosts: Sequence[Host],
        vms: Sequence[VmFacts],
        placement: Mapping[str, str],
        moves_id: str = "0-0",
    ) -> FleetModel:
        host_index = {h.name: i for i, h in enumerate(hosts)}
        members: list[list[int]] = [[] for _ in hosts]
        base = []
        for j, v in enumerate(vms):
            host = placement[v.name]
            members[host_index[host]].append(j)
            base.append(vm_struct(v, host))
        load = LoadModel(
            trace_pct=trace_pct,
            step_s=info.trace_step_s,
            t0=info.trace_t0,
            rows=np.array([v.row for v in vms], dtype=np.int64),
            offsets=np.array([v.offset for v in vms], dtype=np.float64),
            sizes=np.array([v.size_cores for v in vms], dtype=np.float64),
        )
        return cls(
            info=info,
            hosts=tuple(hosts),
            vms=tuple(vms),
            load=load,
            memory=np.array([v.memory_mib for v in vms], dtype=np.int64),
            hot=np.array([v.hot for v in vms], dtype=np.bool_),
            base=base,
            members=members,
            host_index=host_index,
            vm_index={v.name: j for j, v in enumerate(vms)},
            moves_id=moves_id,
        )

    def move(self, vm: str, dest: str) -> None:
        """A landing read from the store: the VM leaves its host for ``dest``."""
        j = self.vm_index.get(vm)
        if j is None or dest not in self.host_index:
            return  # not this fleet's (a store shared with another run)
        old = self.base[j].host
        if old == dest:
            return
        src = self.members[self.host_index[old]]
        src.pop(bisect.bisect_left(src, j))
        bisect.insort(self.members[self.host_index[dest]], j)
        self.base[j] = msgspec.structs.replace(self.base[j], host=dest)

    def host_of(self, vm: str) -> str:
        return self.base[self.vm_index[vm]].host
