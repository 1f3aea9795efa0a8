"""Balance: lower the spread of CPU and memory utilization across the active hosts.

Greedy and bounded: take the most loaded host, find the move of one of its VMs that cuts
the imbalance the most, and make it only if the gain exceeds its cost (estimated
migration seconds × ``move_cost_per_s``). The imbalance is the sum over the hosts that
are on of the squared deviation of their CPU utilization from the mean (plus the same for
memory in ``cpu+memory`` mode): unlike the standard deviation, what one move gains does
not shrink as the cluster grows, so one cost threshold suits 5 hosts and 10,000.
Relieving a host over its headroom counts extra, so overloads go first. Destinations are
the ``DESTINATIONS`` least loaded hosts, and the hosts a moving VM's soft rules prefer:
among the destinations where its move pays, such a VM goes where the soft-rule weighers
(``balancer.core.weighers.SOFT``) score highest, then where the imbalance drops most. Soft
rules never cause a move by themselves. Each VM moves at most once per plan; VMs in
their cooldown stay; ``max_migrations`` caps the plan. Migration times are computed once
per VM and bandwidth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from balancer.core.cluster import FloatArray
from balancer.core.migration_model import bandwidth, estimate
from balancer.core.plan import MoveReason
from balancer.core.planning import BoolArray, IntArray, Item, Planning
from balancer.core.weighers import SOFT, scores

#: How many of the most loaded hosts to try before giving up an iteration.
SOURCES_PER_ROUND = 3
#: Destinations weighed per move: the least loaded hosts that are on (all of them in
#: clusters up to this size). Keeps one move O(hosts) on 10,000-host clusters.
DESTINATIONS = 256
#: Weight of one host-capacity of overload relieved, against spread (0..1) gained.
OVERLOAD_WEIGHT = 10.0


@dataclass(frozen=True, slots=True)
class Candidate:
    item: Item
    dest: int
    net: float
    gain: float


class BalanceObjective:
    NAME: ClassVar[str] = "balance"
    REASON: ClassVar[MoveReason] = MoveReason.BALANCE
    PRIORITY: ClassVar[int] = 6
    POWERS_OFF: ClassVar[bool] = False
    LISTS_UNMOVABLE: ClassVar[bool] = True

    def run(self, p: Planning) -> None:
        cap = p.policy.max_migrations
        limit = len(p.snapshot.vms) if cap is None else cap
        balance(p, max(limit - len(p.move_reason), 0))


def balance(p: Planning, budget: int) -> None:
    run = _Run(p)
    moved = 0
    while moved < budget:
        best = _best_move(run, budget - moved)
        if best is None:
            return
        s = p.state
        src = s.host_of(best.item.vms[0])
        before = _util(p, src)
        p.place(best.item, best.dest, (MoveReason.BALANCE, ""))
        reason = (
            MoveReason.BALANCE,
            f"{s.hosts[src].name} {before:.0%} → {_util(p, src):.0%}, imbalance −{best.gain:.3f}",
        )
        for v in best.item.vms:
            p.move_reason[v] = reason
        moved += len(best.item.vms)


class _Run:
    """One balance run: the planning, the sources given up on, and what does not change
    while it runs (which VMs may move at all, each VM's migration time per bandwidth)."""

    def __init__(self, p: Planning) -> None:
        self.p = p
        self.stuck: set[int] = set()
        #: First VM of an item -> may the item move for balance (ignoring where it is)?
        self.eligible: dict[int, bool] = {}
        #: (VM, bandwidth) -> the model's migration seconds (the destination matters only
        #: through the bandwidth).
        self._seconds: dict[tuple[int, float], float] = {}
        #: VMs some soft rule is about (their destinations are weighed by ``SOFT``).
        self.soft = frozenset(p.state.vm_index[n] for n in p.rules.soft_vms()
                              if n in p.state.vm_index)  # fmt: skip

    def duration_s(self, v: int, src: int, dest: int) -> float:
        """The model's migration time of VM ``v``, with its measured non-zero memory."""
        p = self.p
        hosts, vm = p.state.hosts, p.state.vms[v]
        link = p.links.get((hosts[src].name, hosts[dest].name))
        b = bandwidth(hosts[src], hosts[dest], p.policy, link)
        key = (v, b)
        seconds = self._seconds.get(key)
        if seconds is None:
            seconds = self._seconds[key] = estimate(
                vm, hosts[src], hosts[dest], p.policy, resident_mib=vm.resident_mib,
                link_mib_s=link,
            ).duration_s  # fmt: skip
        return seconds

    def cost(self, item: Item, src: int, dest: int) -> float:
        return sum(self.duration_s(v, src, dest) for v in item.vms) * self.p.policy.move_cost_per_s


def _util(p: Planning, h: int) -> float:
    s = p.state
    cpu = s.used_cpu[h] / s.raw_cpu[h]
    return float(cpu if s.cpu_only else max(cpu, s.used_mem[h] / s.raw_mem[h]))


def _best_move(run: _Run, budget: int) -> Candidate | None:
    p, stuck = run.p, run.stuck
    s, online = p.state, p.accepting
    hosts = np.flatnonzero(online)
    if len(hosts) < 2:
        return None
    pressure = s.used_cpu / s.raw_cpu
    if not s.cpu_only:
        pressure = np.maximum(pressure, s.used_mem / s.raw_mem)
    # The most loaded hosts first (as many as may be needed), the least loaded as targets.
    want = min(len(hosts), SOURCES_PER_ROUND + len(stuck) + 1)
    top = hosts[np.argpartition(-pressure[hosts], want - 1)[:want]]
    order = top[np.argsort(-pressure[top], kind="stable")]
    if len(hosts) > DESTINATIONS:
        cols = hosts[np.argpartition(pressure[hosts], DESTINATIONS - 1)[:DESTINATIONS]]
    else:
        cols = hosts
    tried = 0
    for src in order:
        if tried >= SOURCES_PER_ROUND:
            break
        if int(src) in stuck:
            continue
        tried += 1
        best = _best_from(run, int(src), online, budget, cols)
        if best is not None:
            return best
        stuck.add(int(src))
    return None


def _best_from(
    run: _Run, src: int, online: BoolArray, budget: int, cols: IntArray
) -> Candidate | None:
    """The best move of one VM (or affinity group) off ``src`` to one of ``cols`` (and
    to the hosts its soft rules prefer)."""
    p = run.p
    items = [it for it in _items_on(run, src) if len(it.vms) <= budget]
    if not items:
        return None
    soft = {i for i, it in enumerate(items) if run.soft.intersection(it.vms)}
    if soft:
        cols = np.union1d(cols, _preferred_hosts(p, [items[i] for i in sorted(soft)], online))
    masks = p.candidates_many(items, cols)
    if not masks.any():
        return None
    base = _imbalance(p, online)
    after = _imbalance_after(p, online, items, src, cols)
    after[~masks] = np.inf
    relief = _relief(p, src, items)
    best: Candidate | None = None
    for i in np.argsort(after.min(axis=1), kind="stable"):
        k = int(np.argmin(after[i]))
        if not np.isfinite(after[i, k]):
            break
        item = items[int(i)]
        top_gain = base - float(after[i, k])
        if i in soft:
            k = _soft_choice(run, item, src, cols, base - after[i], float(relief[i]))
            if k < 0:
                continue
        dest = int(cols[k])
        gain = base - float(after[i, k])
        net = gain + OVERLOAD_WEIGHT * float(relief[i]) - run.cost(item, src, dest)
        if math.isfinite(net) and net > 0 and (best is None or net > best.net):
            best = Candidate(item, dest, net, gain)
        if best is not None and relief[i] == 0 and top_gain <= best.net:
            break  # sorted by gain: no later item can beat it
    return best


def _preferred_hosts(p: Planning, items: list[Item], online: BoolArray) -> IntArray:
    """The hosts that are on and that a soft rule of ``items`` scores above the others."""
    hosts = np.flatnonzero(online)
    liked = scores(p, items, hosts, SOFT).max(axis=0) > 0
    out: IntArray = hosts[liked]
    return out


def _soft_choice(
    run: _Run, item: Item, src: int, cols: IntArray, gains: FloatArray, relief: float
) -> int:
    """For an item with soft rules: among the destinations where the move pays (gain and
    relief above its cost), the column its soft rules prefer most, then the best gain;
    −1 when the move pays nowhere."""
    p = run.p
    ok = np.flatnonzero(np.isfinite(gains))
    pays = [
        int(k)
        for k in ok
        if gains[k] + OVERLOAD_WEIGHT * relief - run.cost(item, src, int(cols[k])) > 0
    ]
    if not pays:
        return -1
    ks = np.array(pays)
    soft = scores(p, [item], cols[ks], SOFT)[0]
    top = ks[soft >= soft.max() - 1e-9]
    return int(top[int(np.argmax(gains[top]))])


def _relief(p: Planning, src: int, items: list[Item]) -> FloatArray:
    """How much of ``src``'s overload (in host capacities) moving each item relieves."""
    s = p.state
    over_cpu = max(0.0, float(s.used_cpu[src] - s.cap_cpu[src]))
    over_mem = 0.0 if s.cpu_only else max(0.0, float(s.used_mem[src] - s.cap_mem[src]))
    cpu = np.array([min(it.cpu, over_cpu) for it in items]) / float(s.raw_cpu[src])
    mem = np.array([min(it.mem, over_mem) for it in items]) / float(s.raw_mem[src])
    relief: FloatArray = cpu + mem
    return relief


def _items_on(run: _Run, src: int) -> list[Item]:
    """The items on ``src`` that balance may move (each once per plan)."""
    p, out = run.p, []
    for v in sorted(p.state.members[src]):
        ok = run.eligible.get(v)
        if ok is None:
            item = p.item_of[v]
            ok = run.eligible[v] = (
                item.vms[0] == v and not p.leaving(item) and p.movability(item, evacuating=False).ok
            )
        if not ok:
            continue
        item = p.item_of[v]
        if len(item.vms) == 1:
            if v in p.move_reason:  # moved once already
                continue
        elif p.is_moved(item) or any(p.state.host_of(m) != src for m in item.vms[1:]):
            continue
        out.append(item)
    return out


def _dims(p: Planning, item: Item | None = None) -> list[tuple[np.ndarray, np.ndarray, float]]:
    s = p.state
    dims = [(s.used_cpu, s.raw_cpu, item.cpu if item else 0.0)]
    if not s.cpu_only:
        dims.append((s.used_mem, s.raw_mem, item.mem if item else 0.0))
    return dims


def _imbalance(p: Planning, online: BoolArray) -> float:
    """Σ (u − mean)² over the hosts that are on, per dimension, summed."""
    total = 0.0
    for used, raw, _ in _dims(p):
        u = used[online] / raw[online]
        total += float(((u - u.mean()) ** 2).sum())
    return total


def _imbalance_after(
    p: Planning, online: BoolArray, items: list[Item], src: int, cols: IntArray
) -> FloatArray:
    """The imbalance after moving each item (rows) from ``src`` to each of ``cols``."""
    s = p.state
    n = float(online.sum())
    total = np.zeros((len(items), len(cols)))
    amounts = [np.array([it.cpu for it in items])]
    if not s.cpu_only:
        amounts.append(np.array([it.mem for it in items]))
    for (used, raw, _), amount in zip(_dims(p), amounts, strict=True):
        u = np.where(online, used / raw, 0.0)
        s1, s2 = float(u.sum()), float((u * u).sum())
        us = float(u[src])
        ds = (amount / raw[src])[:, None]
        dd = amount[:, None] / raw[cols][None, :]
        uc = u[cols][None, :]
        s1n = s1 - ds + dd
        s2n = s2 - us * us + (us - ds) ** 2 - uc * uc + (uc + dd) ** 2
        total += np.maximum(s2n - s1n * s1n / n, 0.0)
    return total
