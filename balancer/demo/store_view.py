"""What the live view shows, read from the store: the hosts with their load and VMs, the
migrations in flight with their progress, the leader and the last cycle. Shared by the
simulated demo (``run.py``) and the lab's (``lab_run.py``)."""

from __future__ import annotations

import msgspec
import redis

from balancer.core.models import Snapshot
from balancer.daemon.leader import current_leader
from balancer.daemon.redis_store import last_cycle
from balancer.demo.view import HostLine, MoveLine
from balancer.state.keys import Keys
from balancer.state.migrations import running_migrations
from workers.executor.records import Progress


def vms_per_host(snapshot: Snapshot) -> dict[str, int]:
    on_host: dict[str, int] = {}
    for v in snapshot.vms:
        on_host[v.host] = on_host.get(v.host, 0) + 1
    return on_host


def host_lines(snapshot: Snapshot) -> tuple[HostLine, ...]:
    on_host = vms_per_host(snapshot)
    return tuple(
        HostLine(
            name=h.name,
            state=h.state,
            reason=h.state_reason,
            cpu=h.cpu_used / h.cpu_capacity_cores,
            memory=h.memory_used_mib / h.memory_mib,
            vms=on_host.get(h.name, 0),
        )
        for h in snapshot.hosts
    )


def move_lines(client: redis.Redis, keys: Keys) -> tuple[MoveLine, ...]:
    out = []
    for r in running_migrations(client, keys):
        raw = client.get(keys.progress(r.vm))
        p = None if raw is None else msgspec.json.decode(raw, type=Progress)
        out.append(MoveLine(
            vm=r.vm, source=r.source, dest=r.dest,
            percent=0.0 if p is None else p.percent,
            steps=" ".join(s for s in (p.ladder if p else ()) if not s.startswith("skip")),
        ))  # fmt: skip
    return tuple(out)


def leader_line(client: redis.Redis, keys: Keys) -> str:
    leader = current_leader(client, keys)
    return "none" if leader is None else f"{leader.id} (epoch {leader.epoch})"


def cycle_line(client: redis.Redis, keys: Keys) -> str:
    cycle = last_cycle(client, keys)
    return "-" if cycle is None else f"{cycle.outcome}: {cycle.summary}"[:110]


def busiest_active_host(snapshot: Snapshot) -> str | None:
    """The active host holding the most VMs (what the demos' operator evacuates)."""
    load = {h.name: 0 for h in snapshot.hosts if h.state == "active"}
    for v in snapshot.vms:
        if v.host in load:
            load[v.host] += 1
    return max(sorted(load), key=lambda h: load[h]) if load else None
