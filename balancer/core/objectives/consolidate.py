"""Consolidate: the fewest hosts that hold the load with headroom; the others are emptied
and powered off. When the active hosts cannot hold the load, ``off`` hosts are powered on.

1. Rank the hosts that may hold VMs: hosts with VMs that cannot move first, then active
   before off, then by how many VMs already run there (each one that stays is a
   migration saved), then by the memory they hold, their size and their efficiency.
2. Start from the smallest prefix of that ranking whose capacity covers the demand.
3. ``pack`` keeps every VM of a kept host where it is, then places the VMs of the other
   hosts largest first, best fit (the stacking weighers); when a VM fits nowhere it
   evicts smaller VMs from one kept host (the fewest that make room) and places them
   later; when even that fails, it keeps the best-ranked host that could take the VM.
   Evicted VMs are always smaller than the VM that evicted them, so this ends.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import ClassVar

import numpy as np

from balancer.core.cluster import EPS, Checkpoint
from balancer.core.plan import MoveReason, PowerReason
from balancer.core.planning import BoolArray, Item, Planning
from balancer.core.weighers import STACK, choose

#: Hosts examined per eviction (the emptiest in the item's binding dimension first).
EVICTION_HOSTS = 8


class ConsolidateObjective:
    NAME: ClassVar[str] = "consolidate"
    REASON: ClassVar[MoveReason] = MoveReason.CONSOLIDATION
    PRIORITY: ClassVar[int] = 9
    POWERS_OFF: ClassVar[bool] = True
    LISTS_UNMOVABLE: ClassVar[bool] = True

    def run(self, p: Planning) -> None:
        consolidate(p)


def consolidate(p: Planning) -> None:
    s = p.state
    pool = p.accepting | (p.off & ~p.accepting)
    hosts = [int(h) for h in np.flatnonzero(pool)]
    if not hosts:
        return
    fixed = _fixed_items(p, pool)
    forced = {p.state.host_of(v) for v in fixed}
    binding = _binding_capacity(p, pool)
    ranked = sorted(hosts, key=lambda h: _rank_key(p, h, forced, binding))
    keys = _Keys(p, fixed)
    kept = np.zeros(len(s.hosts), dtype=np.bool_)
    kept[ranked[: max(_lower_bound(p, ranked), len(forced), 1)]] = True
    start, start_reasons = s.checkpoint(), dict(p.move_reason)
    grown = kept.copy()
    if _pack(p, grown, pool, keys, ranked) is not None:
        return  # no set of hosts holds the load: leave the placement alone
    if (grown != kept).any():
        # Hosts kept along the way lost their VMs before they were kept: pack once more
        # with every kept host's VMs staying from the start (fewer migrations).
        first, first_reasons = s.checkpoint(), dict(p.move_reason)
        s.restore(start)
        p.move_reason = dict(start_reasons)
        again = grown.copy()
        if _pack(p, again, pool, keys, ranked) is not None or _moves(p) > _moves_in(first, p):
            s.restore(first)
            p.move_reason = first_reasons
        else:
            grown = again
    kept = grown
    for h in np.flatnonzero(kept & p.off):
        if s.members[int(h)]:
            p.accepting[h] = True
            p.power_on[int(h)] = (
                PowerReason.CONSOLIDATION,
                "the active hosts cannot hold the load",
            )


def _moves(p: Planning) -> int:
    return int((p.state.vm_host != p.state.original_host).sum())


def _moves_in(cp: Checkpoint, p: Planning) -> int:
    return int((cp.vm_host != p.state.original_host).sum())


def _next_host(p: Planning, item: Item, kept: BoolArray, ranked: list[int]) -> int | None:
    """The best-ranked host not yet kept that passes every filter for ``item`` and has
    room for it (``ranked`` holds only pool hosts)."""
    ok = p.candidates(item, among=~kept)
    home = int(p.state.original_host[item.vms[0]])
    if not kept[home] and _fits_home(p, item, home):
        ok[home] = True
    for h in ranked:
        if ok[h]:
            return h
    return None


def _fixed_items(p: Planning, pool: BoolArray) -> set[int]:
    """Items (by first VM) on pool hosts that cannot move, or that no other pool host
    could take: their hosts stay on, and they are never evicted."""
    out = set()
    #: Signature -> (hosts passing, how many of them are in the pool).
    counts: dict[Hashable, tuple[BoolArray, int]] = {}
    for item in p.items:
        h = p.state.host_of(item.vms[0])
        if not pool[h]:
            continue
        vm = p.state.vms[item.vms[0]]
        if not p.can_move(item):
            out.add(item.vms[0])
        elif len(item.vms) > 1 or vm.name in p.rules.pins:
            if not (p.static_mask(item) & pool).any():
                out.add(item.vms[0])
        else:
            sig = p.compat.signature(vm)
            known = counts.get(sig)
            if known is None:
                passing = p.compat.hosts_passing(vm)
                known = counts[sig] = (passing, int((passing & pool).sum()))
            if known[1] - int(known[0][h]) <= 0:
                out.add(item.vms[0])
    return out


def _rank_key(p: Planning, h: int, forced: set[int], binding: np.ndarray) -> tuple[float, ...]:
    s = p.state
    items = {p.item_of[v] for v in s.members[h]}
    cap = s.raw_cpu[h] / max(float(s.raw_cpu.max()), 1e-9)
    if not s.cpu_only:
        cap += s.raw_mem[h] / max(float(s.raw_mem.max()), 1.0)
    return (
        -float(h in forced),
        -float(bool(p.accepting[h])),
        -round(float(binding[h]), 2),
        -float(len(items)),
        -float(s.used_mem[h]),
        -float(cap),
        float(h),
    )


def _binding_capacity(p: Planning, pool: BoolArray) -> np.ndarray:
    """Each host's capacity in the dimension that binds the cluster (relative to the
    largest host): bigger hosts first means fewer hosts."""
    s = p.state
    cpu = s.raw_cpu / max(float(s.raw_cpu.max()), 1e-9)
    if s.cpu_only:
        return cpu
    mem = s.raw_mem / max(float(s.raw_mem.max()), 1.0)
    cpu_load = s.vm_cpu.sum() / max(float(s.cap_cpu[pool].sum()), 1e-9)
    mem_load = s.vm_mem.sum() / max(float(s.cap_mem[pool].sum()), 1e-9)
    return mem if mem_load >= cpu_load else cpu


def _lower_bound(p: Planning, ranked: list[int]) -> int:
    s = p.state
    on_pool = np.isin(s.vm_host, ranked)
    demand_cpu = float(s.vm_cpu[on_pool].sum())
    demand_mem = float(s.vm_mem[on_pool].sum())
    idx = np.array(ranked)
    cum_cpu = np.cumsum(s.cap_cpu[idx] - s.overhead_cpu[idx])
    cum_mem = np.cumsum(s.cap_mem[idx])
    ok = (cum_cpu >= demand_cpu - EPS) & (cum_mem >= demand_mem - EPS)
    return int(np.argmax(ok)) + 1 if ok.any() else len(ranked)


class _Keys:
    """Packing order: an item's dominant share of the largest host (then its index)."""

    def __init__(self, p: Planning, fixed: set[int]) -> None:
        s = p.state
        #: Items that stay where they are (never evicted).
        self.fixed = fixed
        cpu_ref = max(float(s.raw_cpu.max()), 1e-9)
        mem_ref = max(float(s.raw_mem.max()), 1.0)
        self._key = {
            it.vms[0]: (
                it.cpu / cpu_ref if s.cpu_only else max(it.cpu / cpu_ref, it.mem / mem_ref),
                it.vms[0],
            )
            for it in p.items
        }

    def __call__(self, item: Item) -> tuple[float, int]:
        return self._key[item.vms[0]]


def _pack(
    p: Planning, kept: BoolArray, pool: BoolArray, keys: _Keys, ranked: list[int]
) -> Item | None:
    """Place every VM of the pool on ``kept`` hosts, keeping one more host (``kept`` is
    updated) whenever a VM fits nowhere even after evictions. On failure, leave the state
    as it was and return the item that found no place."""
    s = p.state
    checkpoint = s.checkpoint()
    heap: list[tuple[float, int, int]] = []
    items_by_first: dict[int, Item] = {}

    def push(item: Item) -> None:
        for v in item.vms:
            s.unplace(v)
        share, first = keys(item)
        items_by_first[first] = item
        heapq.heappush(heap, (-share, -first, first))

    for item in p.items:
        h = s.host_of(item.vms[0])
        if h < 0 or not pool[h] or kept[h]:
            continue
        if not p.can_move(item):
            s.restore(checkpoint)
            return item
        push(item)
    for h in (int(x) for x in np.flatnonzero(kept)):
        if not s.overloaded(h):
            continue
        # The largest movable VM leaves until the host is no longer overloaded.
        for victim in sorted(_movable_on(p, h, None, keys), key=keys, reverse=True):
            push(victim)
            if not s.overloaded(h):
                break
    while heap:
        _, _, first = heapq.heappop(heap)
        item = items_by_first[first]
        home = int(s.original_host[item.vms[0]])
        if kept[home] and _fits_home(p, item, home):
            target = home
        elif (mask := p.candidates(item, among=kept)).any():
            target = choose(p, item, mask, STACK)
        else:
            evicted = _evict_for(p, item, kept, keys)
            if evicted is None:
                grow = _next_host(p, item, kept, ranked)
                if grow is None:
                    s.restore(checkpoint)
                    return item
                kept[grow] = True
                target = grow
            else:
                target, evictions = evicted
                for victim in evictions:
                    push(victim)
        s.move_all(item.vms, target)
    _record_reasons(p)
    return None


def _fits_home(p: Planning, item: Item, home: int) -> bool:
    s = p.state
    # fit_mask's test, for one host.
    if not (
        s.used_cpu[home] + item.cpu <= s.cap_cpu[home] + EPS
        and s.used_mem[home] + item.mem <= s.cap_mem[home] + EPS
    ):
        return False
    if not _home_passes(p, item, home):
        return False
    return not (p.beyond_room and p.apart_mask(item)[home])


def _home_passes(p: Planning, item: Item, home: int) -> bool:
    """Does the item's home (its first VM's host) pass the filters for the whole item? It
    does for VMs already there; a hard-affinity group whose VMs started on different
    hosts has no common home, so the others are checked like at any destination."""
    s = p.state
    if all(int(s.original_host[v]) == home for v in item.vms):
        return True
    return bool(p.static_mask(item)[home])


def _movable_on(p: Planning, h: int, limit: tuple[float, int] | None, keys: _Keys) -> list[Item]:
    """Items placed on ``h`` that may be evicted (smaller than ``limit`` when given)."""
    out = []
    seen = set()
    for v in p.state.members[h]:
        item = p.item_of[v]
        if item.vms[0] in seen:
            continue
        seen.add(item.vms[0])
        if limit is not None and keys(item) >= limit:
            continue
        if item.vms[0] not in keys.fixed:
            out.append(item)
    return out


def _evict_for(
    p: Planning, item: Item, kept: BoolArray, keys: _Keys
) -> tuple[int, list[Item]] | None:
    """The kept host where evicting the fewest (then smallest) VMs makes room for ``item``."""
    s = p.state
    mask = p.static_mask(item) & kept
    if p.beyond_room:
        mask &= ~p.apart_mask(item)
    home = int(s.original_host[item.vms[0]])
    if kept[home] and _home_passes(p, item, home):
        mask[home] = True
    hosts = np.flatnonzero(mask)
    if len(hosts) == 0:
        return None
    free = np.minimum(
        (s.cap_cpu[hosts] - s.used_cpu[hosts]) / max(item.cpu, 1e-9),
        (s.cap_mem[hosts] - s.used_mem[hosts]) / max(item.mem, 1e-9),
    )
    hosts = hosts[np.argsort(-free, kind="stable")][:EVICTION_HOSTS]
    limit = keys(item)
    best: tuple[tuple[int, float], int, list[Item]] | None = None
    for h in (int(x) for x in hosts):
        need_cpu = s.used_cpu[h] + item.cpu - s.cap_cpu[h]
        need_mem = s.used_mem[h] + item.mem - s.cap_mem[h]
        victims: list[Item] = []
        freed = 0.0
        for victim in sorted(_movable_on(p, h, limit, keys), key=keys, reverse=True):
            if need_cpu <= EPS and need_mem <= EPS:
                break
            victims.append(victim)
            need_cpu -= victim.cpu
            need_mem -= victim.mem
            freed += keys(victim)[0]
        if need_cpu > EPS or need_mem > EPS:
            continue
        score = (len(victims), freed)
        if best is None or score < best[0]:
            best = (score, h, victims)
    return None if best is None else (best[1], best[2])


def _record_reasons(p: Planning) -> None:
    s = p.state
    moved = s.vm_host != s.original_host
    for v in [v for v in p.move_reason if not moved[v]]:
        del p.move_reason[v]
    for v in (int(x) for x in np.flatnonzero(moved)):
        if v not in p.move_reason or p.move_reason[v][0] != MoveReason.EVACUATION:
            src = int(s.original_host[v])
            name = s.hosts[src].name
            p.move_reason[v] = (
                MoveReason.CONSOLIDATION,
                f"make room on {name}, which stays on"
                if s.members[src]
                else f"empty {name} so it can be powered off",
            )
