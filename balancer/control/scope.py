"""What an intent may touch this cycle (``Scope``): the snapshot and each VM's demand,
the VMs that must stay, the hosts nobody touches, and the hosts the power rules let the
cycle switch on or off. Each intent claims what it uses; the next, lower in priority,
works on what is left (the proposals touch no host in common)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from balancer.control import power_rules
from balancer.control.hosts import spares
from balancer.control.memory import CycleMemory
from balancer.control.proposal import Proposal
from balancer.control.settings import ControlSettings
from balancer.control.situation import FloatArray
from balancer.core.compose import VmArrays
from balancer.core.filters.passthrough import passthrough_verdict
from balancer.core.models import Host, Snapshot

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Scope:
    snapshot: Snapshot
    history: FloatArray
    step_s: float
    settings: ControlSettings
    #: The memory after ``power_rules.advance``.
    memory: CycleMemory
    #: VMs that stay where they are: busy, on held hosts, moved by a higher intent.
    fixed: frozenset[str]
    #: Hosts nobody touches: held by an operator, or claimed by a higher intent.
    closed: frozenset[str]
    #: Off hosts that may be powered on now; hosts that may be powered off now.
    can_on: frozenset[str]
    can_off: frozenset[str]
    #: Computed once a cycle: the off hosts, the most capacity per watt first; each VM's
    #: host (index into ``snapshot.hosts``), memory (MiB); each host's index and VMs; the
    #: hosts holding a VM, and those holding a VM that may only leave to evacuate
    #: (busy, or in its cool-down) or never (passthrough): energy saving drains none.
    off_order: tuple[Host, ...]
    host_index: dict[str, int]
    arrays: VmArrays
    counts: IntArray
    holding: frozenset[str]
    stuck: frozenset[str]

    @staticmethod
    def start(
        snapshot: Snapshot,
        history: FloatArray,
        step_s: float,
        settings: ControlSettings,
        memory: CycleMemory,
        *,
        busy: frozenset[str],
        held: frozenset[str],
    ) -> Scope:
        now = snapshot.taken_at
        host_index = {h.name: i for i, h in enumerate(snapshot.hosts)}
        arrays = VmArrays.of(snapshot)
        counts = np.bincount(arrays.host, minlength=len(snapshot.hosts)).astype(np.int64)
        on_held = [v.name for v in snapshot.vms if v.host in held] if held else []
        fixed = busy | set(on_held)
        names = [h.name for h in snapshot.hosts if h.name not in held]
        return Scope(
            snapshot=snapshot,
            history=history,
            step_s=step_s,
            settings=settings,
            memory=memory,
            fixed=frozenset(fixed),
            closed=held,
            can_on=frozenset(
                h.name
                for h in snapshot.hosts
                if h.state == "off"
                and h.name not in held
                and power_rules.may_power_on(memory, h.name, now, settings)
            ),
            can_off=frozenset(
                n for n in names if power_rules.may_power_off(memory, n, now, settings)
            ),
            off_order=tuple(spares(snapshot.hosts)),
            host_index=host_index,
            arrays=arrays,
            counts=counts,
            holding=frozenset(h.name for h, n in zip(snapshot.hosts, counts, strict=True) if n),
            stuck=_stuck(snapshot, busy, cooling=not settings.drain_cooling),
        )

    def claim(self, proposal: Proposal) -> Scope:
        """The scope left to the intents below ``proposal``'s."""
        where = self.snapshot.vms
        hosts = {c.source or where[self._vm_row(c.vm)].host for c in proposal.moves}
        hosts |= {c.dest for c in proposal.moves}
        hosts |= {s.host for s in proposal.power}
        return replace(
            self,
            fixed=self.fixed | {c.vm for c in proposal.moves},
            closed=self.closed | hosts,
            can_on=self.can_on - hosts,
            can_off=self.can_off - hosts,
        )

    def reserve(self, hosts: Collection[str]) -> Scope:
        """The scope without ``hosts`` (kept for an intent that decides later)."""
        held = frozenset(hosts)
        return replace(
            self,
            closed=self.closed | held,
            can_on=self.can_on - held,
            can_off=self.can_off - held,
        )

    @property
    def host_of(self) -> IntArray:
        return self.arrays.host

    @property
    def vm_memory(self) -> FloatArray:
        return self.arrays.memory

    def _vm_row(self, name: str) -> int:
        return next(i for i, v in enumerate(self.snapshot.vms) if v.name == name)

    @property
    def now(self) -> float:
        return self.snapshot.taken_at

    def active(self) -> list[Host]:
        """Hosts that are on and open, and not to be emptied by the snapshot policy (in
        the snapshot's order)."""
        leaving = set(self.snapshot.policy.evacuate_hosts)
        return [
            h
            for h in self.snapshot.hosts
            if h.state == "active" and h.name not in self.closed and h.name not in leaving
        ]

    def spares(self) -> list[Host]:
        """Off hosts that may be powered on, the most capacity per watt first."""
        return [h for h in self.off_order if h.name in self.can_on]

    def booting(self) -> frozenset[str]:
        return power_rules.booting(self.memory)


def _stuck(snapshot: Snapshot, busy: frozenset[str], *, cooling: bool) -> frozenset[str]:
    """Hosts holding a busy VM, one in its cool-down (``policy.cooldown_s``; unless not
    ``cooling``), or one that cannot migrate at all (a passthrough device): no drain
    empties them."""
    now = snapshot.taken_at
    cool = snapshot.policy.cooldown_s if cooling else 0.0
    return frozenset(
        v.host
        for v in snapshot.vms
        if v.name in busy
        or (v.last_migrated_at is not None and now - v.last_migrated_at < cool)
        or not passthrough_verdict(v).ok
    )
