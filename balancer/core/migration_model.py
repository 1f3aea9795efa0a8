"""What a migration will cost, and which mode it should use (pre-copy model).

M = memory, D = dirty rate, B = bandwidth, λ = D/B, L = B × downtime limit. Round 0
sends M; round i re-sends what was dirtied during round i − 1 (M·λⁱ, or at most the
writable working set W when it is known). The migration stops the guest for the first
round small enough to send within the limit: n = ⌈log(L/M)/log λ⌉ rounds, total time
≈ (M/B)(1 − λⁿ⁺¹)/(1 − λ), downtime ≈ M·λⁿ/B. QEMU caps no rounds; we call a migration
that needs more than ``MAX_LIVE_ROUNDS`` (or never shrinks below L) non-converging.

Zero pages: QEMU sends a page that is all zeros as a flag (``memory_constant`` in
``jobStats``), not its 4 KiB, so round 0 really sends the guest's *non-zero* memory R ≤ M
(memory it has written since boot). When R is known (``resident_mib``: from the zero-page
count of the VM's last migration, ``Completed.nonzero_bytes``; snapshots carry it as
``Vm.resident_mib``, which the planner passes here), round 0 sends R instead of M;
unknown, the model keeps sending M (an upper bound). Later rounds are unaffected: they
re-send pages the guest wrote, which are non-zero.

B is the measured bandwidth of the host pair when the store has one (``Snapshot.links``,
from the executor's completed migrations), else the slower host's
``migration_bandwidth_mib_s``; the policy's ``bandwidth_mib_s`` caps either. The downtime
limit is the VM's (``vm_ladder``: the policy's budget, at most its ``max_downtime_ms``
label): the limit the executor then starts the migration with.

Disks on storage the destination does not share are copied (``copies_storage``): their
bytes go before the memory (libvirt mirrors the disks first, then migrates memory while
the mirror keeps them in step), so they add bytes and time, not downtime — except in a
non-live move, whose guest is paused from the start. Post-copy cannot be combined with a
storage copy (libvirt refuses it).

Mode choice (the guide, 12.1 and 12.8.1):
- shut-off VM → ``offline`` (its unshared disks copied);
- paused VM → ``non-live``;
- running VM that converges → ``live``;
- otherwise, where post-copy is allowed for the VM (policy or label, never a critical
  one) and no disk is copied → ``live-postcopy`` (one pre-copy pass, then the rest on
  demand);
- otherwise → ``non-live`` (suspend, copy, resume: reliable, but the guest pauses).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from balancer.core.filters.storage import copies_storage, copy_bytes
from balancer.core.models import Host, Link, Policy, Vm
from balancer.core.vm_ladder import vm_ladder

Mode = Literal["live", "live-postcopy", "non-live", "offline"]

MIB = 1024 * 1024
MAX_LIVE_ROUNDS = 30
#: Live migration of more than 1 TiB of guest memory may not complete (guide 12.3).
HUGE_MEMORY_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PreCopy:
    converges: bool
    rounds: int
    duration_s: float
    downtime_s: float
    sent_mib: float


@dataclass(frozen=True, slots=True)
class Estimate:
    mode: Mode
    duration_s: float
    downtime_ms: float
    bytes: int
    rounds: int
    #: Whether plain pre-copy would converge (``False`` explains a post-copy/non-live).
    converges: bool


def precopy(
    memory_mib: float,
    dirty_mib_s: float,
    bandwidth_mib_s: float,
    downtime_limit_ms: float,
    working_set_mib: float | None = None,
    max_rounds: int = MAX_LIVE_ROUNDS,
    resident_mib: float | None = None,
) -> PreCopy:
    """Simulate pre-copy rounds until one fits in the downtime limit (or give up).
    ``resident_mib``: the guest's non-zero memory when known (round 0 sends only that)."""
    if bandwidth_mib_s <= 0:
        raise ValueError("bandwidth must be positive")
    limit = bandwidth_mib_s * downtime_limit_ms / 1000.0
    cap = math.inf if working_set_mib is None else working_set_mib
    pending = first_pass_mib(memory_mib, resident_mib)
    sent = 0.0
    rounds = 0
    while True:
        round_s = pending / bandwidth_mib_s
        sent += pending
        if pending <= limit:
            return PreCopy(True, rounds, sent / bandwidth_mib_s, round_s, sent)
        dirtied = min(dirty_mib_s * round_s, cap, float(memory_mib))
        rounds += 1
        if rounds > max_rounds or dirtied >= pending:
            return PreCopy(False, rounds, math.inf, math.inf, math.inf)
        pending = dirtied


def first_pass_mib(memory_mib: float, resident_mib: float | None) -> float:
    """What one full pass over guest memory puts on the wire: its non-zero part when
    known (zero pages travel as flags), else all of it."""
    if resident_mib is None:
        return float(memory_mib)
    return min(max(float(resident_mib), 0.0), float(memory_mib))


def link_table(links: Iterable[Link]) -> dict[tuple[str, str], float]:
    """``(source, dest)`` → measured MiB/s, from a snapshot's ``links``."""
    return {(link.source, link.dest): link.bandwidth_mib_s for link in links}


def bandwidth(source: Host, dest: Host, policy: Policy, link_mib_s: float | None = None) -> float:
    """Migration bandwidth: the pair's measured figure when known, else the slower
    host's link; capped by the policy."""
    b = link_mib_s or min(source.migration_bandwidth_mib_s, dest.migration_bandwidth_mib_s)
    return min(b, policy.bandwidth_mib_s) if policy.bandwidth_mib_s else b


def estimate(
    vm: Vm,
    source: Host,
    dest: Host,
    policy: Policy,
    *,
    resident_mib: float | None = None,
    link_mib_s: float | None = None,
) -> Estimate:
    """Choose the mode for moving ``vm`` and estimate its duration, downtime and bytes.
    ``resident_mib``: the VM's non-zero memory when known; ``link_mib_s``: the pair's
    measured bandwidth when known (see the module docstring)."""
    b = bandwidth(source, dest, policy, link_mib_s)
    disk = copy_bytes(vm) if copies_storage(vm) else 0
    disk_s, disk_mib = disk / MIB / b, disk / MIB
    if vm.state == "shutoff":
        return Estimate("offline", disk_s, 0.0, disk, 0, True)
    full = float(vm.memory_mib)
    mem = first_pass_mib(full, resident_mib)
    one_pass = mem / b
    if vm.state == "paused":
        return Estimate("non-live", disk_s + one_pass, (disk_s + one_pass) * 1000,
                        int((disk_mib + mem) * MIB), 0, True)  # fmt: skip
    ladder = vm_ladder(vm, policy)
    pc = precopy(full, vm.dirty_rate_mib_s, b, ladder.downtime_ms, vm.working_set_mib,
                 resident_mib=resident_mib)  # fmt: skip
    if pc.converges:
        return Estimate("live", disk_s + pc.duration_s, pc.downtime_s * 1000,
                        int((disk_mib + pc.sent_mib) * MIB), pc.rounds, True)  # fmt: skip
    if ladder.allow_postcopy and not disk:
        dirty = min(vm.dirty_rate_mib_s * one_pass, full, vm.working_set_mib or math.inf)
        return Estimate(
            "live-postcopy",
            one_pass + dirty / b,
            float(ladder.downtime_ms),
            int((mem + dirty) * MIB),
            1,
            False,
        )
    return Estimate("non-live", disk_s + one_pass, (disk_s + one_pass) * 1000,
                    int((disk_mib + mem) * MIB), 0, False)  # fmt: skip


def warnings_for(vm: Vm, est: Estimate) -> tuple[str, ...]:
    out: list[str] = []
    if vm.memory_mib > HUGE_MEMORY_MIB and est.mode != "offline":
        out.append("guest memory over 1 TiB: live migration may not complete (guide 12.3)")
    if est.mode == "non-live" and vm.state == "running":
        out.append(f"will not converge live: the guest pauses for ~{est.downtime_ms / 1000:.1f} s")
    return tuple(out)
