"""Consolidate: the fewest hosts that hold the load with headroom; the others are emptied
and powered off. When the active hosts cannot hold the load, ``off`` hosts are powered on.

1. Rank the hosts that may hold VMs: hosts with VMs that cannot move first, then active
   before off, then by how many VMs already run there (each one that stays is a
   migration saved), then by the memory they hold, their size and their efficiency.
2. Start from the smallest prefix of that ranking whose capacity covers the demand; while
   ``pack`` fails, add the best-ranked host that could take the VM that found no place
   (1, 2, 4, ... hosts at a time, then bisect back to the fewest that pack).
3. ``pack`` keeps every VM of a kept host where it is, then places the VMs of the other
   hosts largest first, best fit (the stacking weighers); when a VM fits nowhere it
   evicts smaller VMs from one kept host (the fewest that make room) and places them
   later. Evicted VMs are always smaller than the VM that evicted them, so this ends.
"""

from __future__ import annotations

import heapq

import numpy as np

from balancer.core.cluster import EPS
from balancer.core.planning import BoolArray, Item, Planning
from balancer.core.weighers import STACK, choose

#: Hosts examined per eviction (the emptiest in the item's binding dimension first).
EVICTION_HOSTS = 32


def consolidate(p: Planning) -> None:
    s = p.state
    pool = p.accepting | (p.off & ~p.accepting)
    hosts = [int(h) for h in np.flatnonzero(pool)]
    if not hosts:
        return
    forced = _forced_hosts(p, pool)
    binding = _binding_capacity(p, pool)
    ranked = sorted(hosts, key=lambda h: _rank_key(p, h, forced, binding))
    keys = _Keys(p)
    base = ranked[: max(_lower_bound(p, ranked), len(forced), 1)]
    added: list[int] = []
    kept = _kept(len(s.hosts), base, added)
    start, start_reasons = s.checkpoint(), dict(p.move_reason)
    failed = _pack(p, kept, pool, keys)
    step = 1
    while failed is not None:
        good = len(added)
        for _ in range(step):
            grow = _next_host(p, failed, kept, ranked)
            if grow is None:
                return  # no set of hosts holds the load: leave the placement alone
            kept[grow] = True
            added.append(grow)
        step *= 2
        failed = _pack(p, kept, pool, keys)
    if step > 2:
        # The last growth may have overshot: find the shortest prefix of ``added`` that packs.
        low, high = good, len(added)
        checkpoint = p.state.checkpoint()
        reasons = dict(p.move_reason)
        while high - low > 1:
            mid = (low + high) // 2
            p.state.restore(start)
            p.move_reason = dict(start_reasons)
            if _pack(p, _kept(len(s.hosts), base, added[:mid]), pool, keys) is None:
                high, checkpoint, reasons = mid, p.state.checkpoint(), dict(p.move_reason)
            else:
                low = mid
        p.state.restore(checkpoint)
        p.move_reason = reasons
        kept = _kept(len(s.hosts), base, added[:high])
    for h in np.flatnonzero(kept & p.off):
        if s.members[int(h)]:
            p.accepting[h] = True
            p.power_on[int(h)] = "consolidate: the active hosts cannot hold the load"


def _kept(n: int, base: list[int], added: list[int]) -> BoolArray:
    kept = np.zeros(n, dtype=np.bool_)
    kept[base] = True
    kept[added] = True
    return kept


def _next_host(p: Planning, failed: Item, kept: BoolArray, ranked: list[int]) -> int | None:
    """The best-ranked host not yet kept, preferring one that could take ``failed``."""
    fits = p.static_mask(failed)
    fits[int(p.state.original_host[failed.vms[0]])] = True
    spare = [h for h in ranked if not kept[h]]
    for h in spare:
        if fits[h]:
            return h
    return spare[0] if spare else None


def _forced_hosts(p: Planning, pool: BoolArray) -> set[int]:
    """Pool hosts holding a VM that cannot move, or that no other pool host could take."""
    out = set()
    for item in p.items:
        h = p.state.host_of(item.vms[0])
        if pool[h] and (not p.can_move(item) or not (p.static_mask(item) & pool).any()):
            out.add(h)
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

    def __init__(self, p: Planning) -> None:
        s = p.state
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


def _pack(p: Planning, kept: BoolArray, pool: BoolArray, keys: _Keys) -> Item | None:
    """Place every VM of the pool on ``kept`` hosts. On failure, leave the state as it
    was and return the item that found no place."""
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
        while s.overloaded(h):
            victims = _movable_on(p, h, None, keys)
            if not victims:
                break
            push(max(victims, key=keys))
    while heap:
        _, _, first = heapq.heappop(heap)
        item = items_by_first[first]
        home = int(s.original_host[item.vms[0]])
        mask = p.candidates(item, among=kept)
        if kept[home] and _fits_home(p, item, home):
            target = home
        elif mask.any():
            target = choose(p, item, mask, STACK)
        else:
            evicted = _evict_for(p, item, kept, keys)
            if evicted is None:
                s.restore(checkpoint)
                return item
            target, victims = evicted
            for victim in victims:
                push(victim)
        s.move_all(item.vms, target)
    _record_reasons(p)
    return None


def _fits_home(p: Planning, item: Item, home: int) -> bool:
    s = p.state
    if not (s.fit_mask(item.cpu, item.mem)[home]):
        return False
    return not (p.rules.apart and p.apart_mask(item)[home])


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
        if p.can_move(item):
            out.append(item)
    return out


def _evict_for(
    p: Planning, item: Item, kept: BoolArray, keys: _Keys
) -> tuple[int, list[Item]] | None:
    """The kept host where evicting the fewest (then smallest) VMs makes room for ``item``."""
    s = p.state
    mask = p.static_mask(item) & kept
    if p.rules.apart:
        mask &= ~p.apart_mask(item)
    home = int(s.original_host[item.vms[0]])
    if kept[home]:
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
    for v in range(len(s.vms)):
        src, dst = int(s.original_host[v]), s.host_of(v)
        if src == dst:
            p.move_reason.pop(v, None)
        elif not p.move_reason.get(v, "").startswith("evacuate"):
            name = s.hosts[src].name
            p.move_reason[v] = (
                f"consolidate: make room on {name}, which stays on"
                if s.members[src]
                else f"consolidate: empty {name} so it can be powered off"
            )
