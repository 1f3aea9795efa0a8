"""The fallback ladder as pure data and functions: which rungs a move may climb, and when
a migration has stalled. No I/O: the state machine feeds samples and the clock in.

Rungs, in order (docs/executor.md): raise max downtime in steps up to the VM's budget →
auto-converge (QEMU throttles the guest's vCPUs, 20 % up to 99 %; not for a critical VM;
armed when the migration starts, since QEMU cannot switch it on later) → post-copy (only
if the policy or the VM's label allows it, the VM is not critical, the link is stable and
no disk is being copied) → suspend the guest and finish non-live (unless the VM's label
forbids it). Abort on the completion timeout is not a rung: it can happen at any point.
The rungs a move may climb come with its order (``LadderConfig.rungs``: the policy's,
less those the VM's labels rule out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workers.executor.hypervisor import JobSample
from workers.executor.order import MigrationOrder


@dataclass(frozen=True)
class Rung:
    step: str  # "downtime" | "auto-converge" | "postcopy" | "suspend"
    value: int | None = None


def rungs_for(order: MigrationOrder) -> tuple[list[Rung], list[tuple[str, str]]]:
    """The rungs this move may climb, and the ones left out with the reason why."""
    cfg, rungs, skipped = order.ladder, [], []
    for name in cfg.rungs:
        if name == "downtime":
            start, budget, n = cfg.initial_downtime_ms, order.downtime_budget_ms, cfg.downtime_steps
            if budget <= start or n < 1:
                skipped.append(("downtime", f"budget {budget} ms is not above {start} ms"))
            else:
                rungs += [
                    Rung("downtime", start + (budget - start) * i // n) for i in range(1, n + 1)
                ]
        elif name == "auto-converge":
            why = auto_converge_refusal(order)
            if why:
                skipped.append(("auto-converge", why))
            else:
                rungs.append(Rung("auto-converge"))
        elif name == "postcopy":
            why = postcopy_refusal(order)
            if why:
                skipped.append(("postcopy", why))
            else:
                rungs.append(Rung("postcopy"))
        elif name == "suspend":
            rungs.append(Rung("suspend"))
    skipped += _left_out(order)
    return rungs, skipped


def _left_out(order: MigrationOrder) -> list[tuple[str, str]]:
    """Rungs the VM's ladder does not have at all (its labels or the policy removed them),
    with why."""
    have = set(order.ladder.rungs)
    why = {
        "downtime": "not among this VM's rungs",
        "auto-converge": auto_converge_refusal(order) or "not among this VM's rungs",
        "postcopy": postcopy_refusal(order) or "not among this VM's rungs",
        "suspend": "suspending this VM is not allowed (the policy or its label)",
    }
    return [(name, reason) for name, reason in why.items() if name not in have]


def auto_converge_refusal(order: MigrationOrder) -> str:
    """Why QEMU's auto-converge may not throttle this VM ("" when it may)."""
    if order.critical:
        return "VM is availability-critical"
    if order.mode not in ("live", "live-postcopy"):
        return f"mode {order.mode} is not live"
    return ""


def postcopy_refusal(order: MigrationOrder) -> str:
    """Why post-copy may not be used for this move ("" when it may)."""
    if not order.allow_postcopy:
        return "post-copy not allowed by the policy"
    if order.critical:
        return "VM is availability-critical"
    if not order.link_stable:
        return "migration link is not stable"
    if order.mode not in ("live", "live-postcopy"):
        return f"mode {order.mode} is not live"
    if order.copy_storage:
        return "disks are being copied (libvirt cannot combine that with post-copy)"
    return ""


@dataclass
class StallDetector:
    """Stall: the remaining memory at the start of an iteration has not reached a new low
    for ``iterations`` iterations (or ``seconds``), or the guest dirties pages at least as
    fast as the link sends them."""

    iterations: int
    seconds: float
    bandwidth_bytes_s: int | None = None
    _iteration: int = -1
    _best: int | None = None
    _best_iteration: int = 0
    _best_at: float = 0.0
    _round_starts: list[int] = field(default_factory=list)

    def observe(self, s: JobSample, now: float) -> str:
        """A reason when the migration is stalled, else ""."""
        if s.total == 0:
            return ""  # QEMU still setting up
        if s.iteration != self._iteration:
            self._iteration = s.iteration
            if self._best is None or s.remaining < self._best * 0.9:
                self._best, self._best_iteration, self._best_at = s.remaining, s.iteration, now
        if s.iteration < 1:
            return ""
        bandwidth = self.bandwidth_bytes_s or s.bandwidth_bytes_s
        dirty = s.dirty_rate_pages_s * s.page_size
        if bandwidth and dirty >= bandwidth:
            return f"dirty rate {dirty >> 20} MiB/s >= bandwidth {bandwidth >> 20} MiB/s"
        if s.iteration - self._best_iteration >= self.iterations:
            return f"remaining memory not shrinking over {self.iterations} iterations"
        if now - self._best_at >= self.seconds:
            return f"remaining memory not shrinking for {self.seconds:.0f} s"
        return ""
