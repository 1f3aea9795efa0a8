"""The ``--placements-out`` record of one step: enough, with the trace, to recompute the
metrics without the simulator.

One JSON object per line::

    {"step": k, "placement": {vm: host}, "active_hosts": [...],
     "migrations": [{"vm", "from", "to", "duration_s", "start_s"}],
     "power": [{"host", "action", "at_s"}]}

``placement`` is where every VM is once step k's migrations are done; ``active_hosts``
the hosts on then, by name (hosts are on or off by the plans' power actions: ``power``
lists those carried out in step k, ``on`` or ``off``, ``at_s`` seconds after the step
began; our addition, like ``start_s``). ``migrations`` ran during step k, from ``start_s``
to ``start_s + duration_s`` seconds after the step began (``start_s`` is our addition to
the issue's format: waves and slots make it part of the record). VM names are the trace's
(file names for PlanetLab), hosts ``host-<index>`` (host i of type i % 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from balancer.sim.replay import StepRecord
from balancer.sim.workload import Workload


def placement_record(workload: Workload, record: StepRecord) -> dict[str, Any]:
    hosts = [h.name for h in workload.hosts]
    where = record.placement
    return {
        "step": record.step,
        "placement": {vm.name: hosts[int(h)] for vm, h in zip(workload.vms, where, strict=True)},
        "active_hosts": [hosts[int(h)] for h in np.flatnonzero(record.powered)],
        "migrations": [
            {
                "vm": m.vm,
                "from": m.source,
                "to": m.dest,
                "duration_s": round(m.duration_s, 3),
                "start_s": round(m.start_s, 3),
            }
            for m in record.migrations
        ],
        "power": [
            {"host": s.host, "action": "on" if s.on else "off", "at_s": round(s.at_s, 3)}
            for s in record.switches
        ],
    }
