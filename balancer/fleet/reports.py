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
) -> list[HostReport]:
    """Reports of ``hosts`` (indices) at fleet time ``at``; ``guests``: VMs not running
    (paused, shutoff); ``seqs``: each report's sequence number."""
    config = model.info.config
    which = np.fromiter((j for i in hosts for j in model.members[i]), dtype=np.int64)
    cores = model.load.cores(at, which)
    dirty = np.where(model.hot[which], config.hot_factor * config.bandwidth_mib_s,
                     cores * config.dirty_per_core_mib_s)  # fmt: skip
    cpu_of = dict(zip(which.tolist(), np.round(cores, 4).tolist(), strict=True))
    dirty_of = dict(zip(which.tolist(), np.round(dirty, 2).tolist(), strict=True))
    replace = msgspec.structs.replace
    out = []
    for i, seq in zip(hosts, seqs, strict=True):
        vms = []
        used = 0.0
        memory = 0
        for j in model.members[i]:
            base = model.base[j]
            state = guests.get(base.name, "running")
            if state == "running":
                cpu = cpu_of[j]
                vms.append(replace(base, cpu_used=cpu, dirty_rate_mib_s=dirty_of[j]))
                used += cpu
            else:
                vms.append(replace(base, state=state))
            if state != "shutoff":
                memory += base.memory_mib
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
