"""One planning run's working state, shared by the objectives.

``Planning`` holds the cluster scratchpad, the filter context, which hosts are on and
may receive VMs, which VMs may move at all, and what has been decided so far: the
reason of every move, the hosts to power on, the VMs that cannot move.

Hard-affinity groups move as one *item* (all members to one host); a lone VM is an item
of one. Objectives work on items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from balancer.core.cluster import ClusterState
from balancer.core.compat import CompatIndex
from balancer.core.emptying import hosts_to_empty
from balancer.core.filters import REGISTRY, FilterContext, first_rejection, placement_constraints
from balancer.core.filters.base import Cols, PlacementConstraint, applies
from balancer.core.filters.passthrough import passthrough_verdict
from balancer.core.migration_model import link_table
from balancer.core.models import Policy, Snapshot
from balancer.core.plan import MoveReason, PowerReason
from balancer.core.reasons import PASS, Reason, Verdict
from balancer.core.rules import RuleIndex

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
#: Why a VM moves or a host powers on: the reason, and a sentence.
Why = tuple[MoveReason, str]
PowerWhy = tuple[PowerReason, str]


@dataclass(frozen=True, slots=True)
class Item:
    """VMs that move together (a hard-affinity group, or one VM), by index."""

    vms: tuple[int, ...]
    cpu: float
    mem: float


class Planning:
    def __init__(
        self,
        snapshot: Snapshot,
        policy: Policy,
        now: float,
        *,
        fixed: Collection[str] = (),
        closed: Collection[str] = (),
    ) -> None:
        """``fixed``: VMs that stay where they are (migrating now, or in a plan under
        way); ``closed``: hosts that neither give nor take (held by an operator)."""
        self.snapshot = snapshot
        self.policy = policy
        self.now = now
        self.state = ClusterState(snapshot, policy)
        self.rules = RuleIndex.build(snapshot.rules)
        self.fctx = FilterContext(self.state, self.rules, policy)
        self.compat = CompatIndex(self.fctx)
        self._placement = placement_constraints()
        #: Placement rules other than room (room is made by moving VMs off a host) that
        #: can refuse anything in this snapshot.
        self._rules_not_room = tuple(
            c for c in self._placement if c.CHECKED != "wave" and applies(c, self.fctx)
        )
        #: Whether ``apart_mask`` can refuse any host (the objectives skip it if not).
        self.beyond_room = bool(self._rules_not_room)
        #: Measured bandwidth per (source, dest) host names (the model's B for that pair).
        self.links = link_table(snapshot.links)
        hosts = snapshot.hosts
        emptied = hosts_to_empty(snapshot, policy)
        self.fixed = frozenset(fixed)
        self.closed = frozenset(closed)
        shut = np.array([h.name in self.closed for h in hosts], dtype=np.bool_)
        #: Hosts whose VMs must leave: evacuated by policy, or in maintenance/draining.
        self.sources: frozenset[int] = frozenset(
            i for i, h in enumerate(hosts) if h.name in emptied and not shut[i]
        )
        #: Hosts that are on and may receive VMs (grows when a host is powered on).
        self.accepting = (
            np.array(
                [h.state == "active" and i not in self.sources for i, h in enumerate(hosts)],
                dtype=np.bool_,
            )
            & ~shut
        )
        self.was_active = np.array([h.state == "active" for h in hosts], dtype=np.bool_)
        self.off = np.array([h.state == "off" for h in hosts], dtype=np.bool_) & ~shut
        self.move_reason: dict[int, Why] = {}
        self.power_on: dict[int, PowerWhy] = {}
        self.unmovable: dict[int, tuple[Reason, str]] = {}
        self._movability: dict[tuple[int, bool], Verdict] = {}
        self._can_move: dict[int, bool] = {}
        #: The placement of the snapshot, to replay the plan's moves from.
        self.initial = self.state.checkpoint()
        self.items = self._build_items()
        self.item_of = {vm: item for item in self.items for vm in item.vms}

    # -- items and movability ---------------------------------------------------------

    def _build_items(self) -> list[Item]:
        s = self.state
        seen: set[int] = set()
        items: list[Item] = []
        together = self.rules.together
        for i, vm in enumerate(s.vms):
            if vm.name not in together:
                items.append(Item((i,), float(s.vm_cpu[i]), float(s.vm_mem[i])))
                continue
            if i in seen:
                continue
            group = tuple(s.vm_index[n] for n in self.rules.group_of(vm.name))
            seen.update(group)
            items.append(
                Item(group, float(s.vm_cpu[list(group)].sum()), float(s.vm_mem[list(group)].sum()))
            )
        return items

    def leaving(self, item: Item) -> bool:
        """Does any VM of the item sit on a host that must be emptied?"""
        return any(int(self.state.original_host[v]) in self.sources for v in item.vms)

    def movability(self, item: Item, *, evacuating: bool) -> Verdict:
        """May this item move at all? Cooldown does not hold back an evacuation."""
        key = (item.vms[0], evacuating)
        verdict = self._movability.get(key)
        if verdict is None:
            verdict = self._movability[key] = self._judge_movability(item, evacuating)
        return verdict

    def _judge_movability(self, item: Item, evacuating: bool) -> Verdict:
        for v in item.vms:
            vm = self.state.vms[v]
            source = self.state.hosts[int(self.state.original_host[v])]
            if source.name in self.closed:
                return Verdict.reject(
                    Reason.HELD, f"{source.name} is held (its evacuation was cancelled)"
                )
            if vm.name in self.fixed:
                return Verdict.reject(Reason.BUSY, f"{vm.name} is migrating or in a plan")
            if source.state in ("failed", "off"):
                return Verdict.reject(
                    Reason.SOURCE_FAILED, f"{source.name} is {source.state}: cannot migrate"
                )
            verdict = passthrough_verdict(vm)
            if not verdict.ok:
                return verdict
            last = vm.last_migrated_at
            if not evacuating and last is not None and self.now - last < self.policy.cooldown_s:
                left = self.policy.cooldown_s - (self.now - last)
                return Verdict.reject(
                    Reason.COOLDOWN,
                    f"{vm.name} migrated {self.now - last:.0f} s ago ({left:.0f} s left)",
                )
        return PASS

    def can_move(self, item: Item) -> bool:
        """May the item move now (evacuating ones regardless of their cooldown)?"""
        ok = self._can_move.get(item.vms[0])
        if ok is None:
            ok = self._can_move[item.vms[0]] = self.movability(
                item, evacuating=self.leaving(item)
            ).ok
        return ok

    def mark_unmovable(self, item: Item, reason: Reason, detail: str) -> None:
        for v in item.vms:
            self.unmovable.setdefault(v, (reason, detail))

    def is_moved(self, item: Item) -> bool:
        return any(v in self.move_reason for v in item.vms)

    # -- where an item may go ---------------------------------------------------------

    def static_mask(self, item: Item) -> BoolArray:
        """Hosts passing every host/vm constraint for all the item's VMs (state ignored)."""
        mask: BoolArray = self._static_cols([item], None)[0]
        return mask

    def _static_cols(self, items: list[Item], cols: Cols) -> BoolArray:
        """``static_mask`` of each item (rows) over the hosts ``cols`` (columns)."""
        rows = self.compat.mask_many([v for it in items for v in it.vms], cols)
        if len(rows) == len(items):
            return rows
        starts = np.cumsum([0] + [len(it.vms) for it in items[:-1]])
        return np.logical_and.reduceat(rows, starts, axis=0)

    def _restrict(
        self, items: list[Item], cols: Cols, rules: tuple[PlacementConstraint, ...], ok: BoolArray
    ) -> BoolArray:
        """Clear the cells of ``ok`` (rows: items; columns: the hosts ``cols``) the
        placement ``rules`` refuse at this point."""
        groups = [it.vms for it in items]
        for c in rules:
            c.restrict(groups, self.fctx, cols, ok)
        return ok

    def apart_mask(self, item: Item) -> BoolArray:
        """Hosts a placement rule other than room refuses the item on now (hard
        anti-affinity, and any placement constraint registered but capacity); none when
        ``beyond_room`` is false."""
        ok = np.ones((1, len(self.state.hosts)), dtype=np.bool_)
        banned: BoolArray = ~self._restrict([item], None, self._rules_not_room, ok)[0]
        return banned

    def candidates(self, item: Item, among: BoolArray | None = None) -> BoolArray:
        """Hosts that are on, accept VMs and pass every constraint for the item now."""
        on = self.accepting if among is None else among
        mask: BoolArray = self.candidates_many([item], None, on)[0]
        return mask

    def candidates_many(
        self, items: list[Item], cols: Cols, among: BoolArray | None = None
    ) -> BoolArray:
        """``candidates`` for several items (rows) over the hosts ``cols`` (columns)."""
        on = self.accepting if among is None else among
        mask = self._static_cols(items, cols)
        mask &= (on if cols is None else on[cols])[None, :]
        return self._restrict(items, cols, self._placement, mask)

    def place(self, item: Item, host: int, reason: Why) -> None:
        self.state.move_all(item.vms, host)
        for v in item.vms:
            if self.state.host_of(v) == int(self.state.original_host[v]):
                self.move_reason.pop(v, None)
            else:
                self.move_reason[v] = reason

    def power_on_for(self, item: Item, reason: PowerWhy) -> int | None:
        """Power on the off host best suited to take ``item`` (most capacity per watt)."""
        mask = self.candidates(item, among=self.off & ~self.accepting)
        if not mask.any():
            return None
        idx = np.flatnonzero(mask)
        best = max(idx, key=lambda h: (_capacity_per_watt(self, int(h)), -int(h)))
        self.accepting[best] = True
        self.power_on[int(best)] = reason
        return int(best)

    # -- explanations -----------------------------------------------------------------

    def why_no_destination(self, item: Item) -> str:
        """Why no host can take the item: the first rejection per host, counted by reason."""
        s = self.state
        counts: Counter[str] = Counter()
        example: dict[str, str] = {}
        for h, host in enumerate(s.hosts):
            if h == s.host_of(item.vms[0]):
                continue
            if not self.accepting[h] and not self.off[h]:
                verdict = Verdict.reject(Reason.HOST_NOT_ACTIVE, f"{host.name} is {host.state}")
            else:
                verdict = PASS
                for v in item.vms:
                    verdict = first_rejection(REGISTRY.values(), s.vms[v], host, self.fctx)
                    if not verdict.ok:
                        break
            if not verdict.ok and verdict.reason is not None:
                counts[verdict.reason.value] += 1
                example.setdefault(verdict.reason.value, verdict.detail)
        if not counts:
            return "no other host"
        parts = [f"{n}× {r} (e.g. {example[r]})" for r, n in counts.most_common()]
        return "no host can take it: " + "; ".join(parts)


def _capacity_per_watt(p: Planning, h: int) -> float:
    host = p.state.hosts[h]
    power = host.power
    watts = 0.0
    if power is not None:
        watts = power.table_w[-1] if power.table_w else (power.max_w or 0.0)
    s = p.state
    cap = float(s.raw_cpu[h] / max(float(s.raw_cpu.max()), 1e-9))
    cap += float(s.raw_mem[h] / max(float(s.raw_mem.max()), 1e-9))
    return cap / watts if watts > 0 else cap
