"""Evacuation bookkeeping, once a cycle: a host an operator put in maintenance or
draining gets a running evacuation (``by="daemon"``) if it has none; each running one
counts the VMs its host still holds (and, for one an operator started, the VMs it held
when first seen: its total), is ``done`` when it holds none, and is
``cancelled`` when its host is no longer in maintenance or draining."""

from __future__ import annotations

import msgspec

from balancer.control.intents import Evacuation
from balancer.core.models import EMPTYING_STATES, Snapshot


def track(
    evacuations: tuple[Evacuation, ...], snapshot: Snapshot, now: float
) -> tuple[tuple[Evacuation, ...], tuple[Evacuation, ...]]:
    """All evacuations as of ``snapshot``, and those created or changed (to store)."""
    holding: dict[str, int] = {}
    for v in snapshot.vms:
        holding[v.host] = holding.get(v.host, 0) + 1
    state = {h.name: h.state for h in snapshot.hosts}
    out: list[Evacuation] = []
    changed: list[Evacuation] = []
    open_hosts: set[str] = set()
    for e in evacuations:
        new = e
        if e.state == "running":
            left = holding.get(e.host, 0)
            # An operator's evacuation is stored before any VM is counted: its total is
            # what the host holds the first time a cycle sees it.
            total = e.vms_total or left
            if left == 0:
                new = msgspec.structs.replace(
                    e, state="done", vms_left=0, vms_total=total, updated_at=now,
                    finished_at=now,
                )  # fmt: skip
            elif state.get(e.host) not in EMPTYING_STATES:
                new = msgspec.structs.replace(
                    e, state="cancelled", vms_left=left, vms_total=total, updated_at=now,
                    finished_at=now,
                )  # fmt: skip
            elif left != e.vms_left or total != e.vms_total:
                new = msgspec.structs.replace(e, vms_left=left, vms_total=total, updated_at=now)
        if new.state != "done":
            open_hosts.add(new.host)
        if new != e:
            changed.append(new)
        out.append(new)
    for h in snapshot.hosts:
        if h.state in EMPTYING_STATES and h.name not in open_hosts and holding.get(h.name):
            n = holding[h.name]
            e = Evacuation(
                id=f"evac-{h.name}-{int(now)}",
                host=h.name,
                reason=h.state_reason or h.state,
                by="daemon",
                created_at=now,
                updated_at=now,
                vms_total=n,
                vms_left=n,
            )
            out.append(e)
            changed.append(e)
    return tuple(out), tuple(changed)
