"""A round's host reports, built as an agent builds its own (pure): the same
``HostReport`` with the snapshot's ``Host`` and ``Vm`` structs, each VM's load from the
trace at the report's fleet time, the host's use the sum of its VMs'.

A report's ``collected_at`` and ``interval_s`` are fleet time; its ``ttl_s`` is the
heartbeat's real lifetime (``publish_report`` sets it as the Redis TTL of ``alive``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
import numpy as np

from balancer import __version__
from balancer.core.models import Vm
from balancer.fleet.model import FleetModel
from balancer.state.report import HostReport

AGENT_VERSION = f"fleet-sim {__version__}"


def host_reports(
    model: FleetModel,
    hosts: Sequence[int],
    at: float,
    guests: Mapping[str, str],
    seqs: Sequence[int],
    ttl_real_s: float,
    load_scale: float = 1.0,
) -> list[HostReport]:
    """Reports of ``hosts`` (indices) at fleet time ``at``; ``guests``: VMs not running
    (paused, shutoff); ``seqs``: each report's sequence number; every VM's trace load
    times ``load_scale`` (a VM at most at 100 %)."""
    config = model.info.config
    sizes = [len(model.members[i]) for i in hosts]
    which = np.fromiter(
        (j for i in hosts for j in model.members[i]), dtype=np.int64, count=sum(sizes)
    )
    cores = model.load.cores(at, which, load_scale)
    dirty = np.where(model.hot[which], config.hot_factor * config.bandwidth_mib_s,
                     cores * config.dirty_per_core_mib_s)  # fmt: skip
    cpus, dirties = np.round(cores, 4).tolist(), np.round(dirty, 2).tolist()
    replace, base = msgspec.structs.replace, model.base
    special = {model.host_index[model.host_of(v)] for v in guests if v in model.vm_index}
    out = []
    k = 0  # position in ``which``: the hosts' VMs in order
    for i, seq, n in zip(hosts, seqs, sizes, strict=True):
        members = model.members[i]
        cpu, dirt = cpus[k : k + n], dirties[k : k + n]
        k += n
        if i in special:
            vms, used, memory = _with_guests([base[j] for j in members], cpu, dirt, guests)
        else:
            vms = [
                replace(base[j], cpu_used=c, dirty_rate_mib_s=d)
                for j, c, d in zip(members, cpu, dirt, strict=True)
            ]
            used, memory = sum(cpu), sum(base[j].memory_mib for j in members)
        host = replace(model.hosts[i], cpu_used=round(used, 4), memory_used_mib=memory)
        out.append(
            HostReport(
                host=host,
                vms=tuple(vms),
                collected_at=at,
                interval_s=config.interval_s,
                ttl_s=ttl_real_s,
                seq=seq,
                agent_version=AGENT_VERSION,
            )
        )
    return out


def _with_guests(
    vms: list[Vm], cpu: list[float], dirty: list[float], guests: Mapping[str, str]
) -> tuple[list[Vm], float, int]:
    """A host's VMs when some are paused or shut off (no load; a shut-off one no memory)."""
    out, used, memory = [], 0.0, 0
    for vm, c, d in zip(vms, cpu, dirty, strict=True):
        state = guests.get(vm.name, "running")
        if state == "running":
            out.append(msgspec.structs.replace(vm, cpu_used=c, dirty_rate_mib_s=d))
            used += c
        else:
            out.append(msgspec.structs.replace(vm, state=state))
        if state != "shutoff":
            memory += vm.memory_mib
    return out, used, memory
