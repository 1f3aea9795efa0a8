"""What an intent may touch this cycle (``Scope``): the snapshot and each VM's demand,
the VMs that must stay, the hosts nobody touches, and the hosts the power rules let the
cycle switch on or off. Each intent claims what it uses; the next, lower in priority,
works on what is left (the proposals touch no host in common)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from balancer.control import power_rules
from balancer.control.hosts import spares
from balancer.control.memory import CycleMemory
from balancer.control.proposal import Proposal
from balancer.control.settings import ControlSettings
from balancer.control.situation import FloatArray
from balancer.core.models import Host, Snapshot


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
    #: The off hosts, the most capacity per watt first (computed once a cycle).
    off_order: tuple[Host, ...] = ()

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
        fixed = busy | {v.name for v in snapshot.vms if v.host in held}
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
        )

    def claim(self, proposal: Proposal) -> Scope:
        """The scope left to the intents below ``proposal``'s."""
        where = self.vm_host
        hosts = {where[c.vm] for c in proposal.moves} | {c.dest for c in proposal.moves}
        hosts |= {s.host for s in proposal.power}
        return replace(
            self,
            fixed=self.fixed | {c.vm for c in proposal.moves},
            closed=self.closed | hosts,
            can_on=self.can_on - hosts,
            can_off=self.can_off - hosts,
        )

    @cached_property
    def vm_host(self) -> dict[str, str]:
        return {v.name: v.host for v in self.snapshot.vms}

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
