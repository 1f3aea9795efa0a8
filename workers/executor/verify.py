"""Verify and record: the VM is on the destination, persistent and in the expected state
(resumed there if the ladder left it paused), and gone from the source; the outcome —
predicted vs actual duration, downtime and bytes, the steps with their reasons — is
recorded, also for failures."""

from __future__ import annotations

import logging

from balancer.errors import VerifyError
from workers.executor.hypervisor import Completed
from workers.executor.move import Deps, Move
from workers.executor.records import Actual, Outcome, Result

log = logging.getLogger(__name__)


def verify_and_record(deps: Deps, m: Move, result: Result) -> Outcome:
    o, hv = m.order, deps.hv
    dst = hv.domain(o.dest, o.vm)
    src = hv.domain(o.source, o.vm)
    want = "shutoff" if o.mode == "offline" else o.expected_state
    if dst is not None and dst.state == "paused" and want == "running":
        hv.resume(o.dest, o.vm)
        m.step(deps.clock(), "resume", "resumed on the destination (was paused to finish)")
        dst = hv.domain(o.dest, o.vm)
    problems = []
    if dst is None:
        problems.append(f"not on {o.dest}")
    else:
        if dst.state != want:
            problems.append(f"{dst.state} on {o.dest}, expected {want}")
        if not dst.persistent:
            problems.append(f"transient on {o.dest}")
    if src is not None:
        problems.append(f"still defined on {o.source} ({src.state})")
    if problems:
        detail = f"{o.vm}: " + "; ".join(problems)
        record(deps, m, "failed", None, detail)
        raise VerifyError(detail)
    return record(deps, m, result, hv.completed(o.dest, o.vm), "")


def record(deps: Deps, m: Move, result: Result, stats: Completed | None, detail: str) -> Outcome:
    now, o = deps.clock(), m.order
    outcome = Outcome(
        vm=o.vm,
        source=o.source,
        dest=o.dest,
        mode=o.mode,
        result=result,
        started_at=m.started,
        ended_at=now,
        predicted=o.predicted,
        actual=Actual(
            duration_s=stats.elapsed_ms / 1000 if stats else now - m.started,
            downtime_ms=float(stats.downtime_ms) if stats else None,
            bytes=stats.bytes if stats else None,
            nonzero_bytes=stats.nonzero_bytes if stats else None,
        ),
        steps=tuple(m.steps),
        finished_by=m.finished_by if result == "migrated" else "",
        detail=detail,
    )
    deps.rec.outcome(outcome)
    log.info("%s %s→%s: %s %s", o.vm, o.source, o.dest, result, detail)
    return outcome
