"""Verify and record: the VM is on the destination, persistent and in the expected state
(resumed there if the ladder left it paused), and gone from the source; its definition
there is marked with the migration and its epoch; the record — predicted vs actual
duration, downtime and bytes, the steps with their reasons — is written, also for
failures and refusals (``MigrationRecord``, ``balancer.state.migrations``)."""

from __future__ import annotations

import logging

from balancer.errors import BalancerError, RetryableError, VerifyError
from balancer.state.migrations import Result
from workers.executor.hypervisor import Completed
from workers.executor.move import Deps, Move
from workers.executor.records import Actual, MigrationRecord

log = logging.getLogger(__name__)
#: How long (of the executor's clock) an ended record is retried while Redis is away.
RECORD_WAIT_S = 60.0
RECORD_RETRY_S = 1.0


def verify_and_record(deps: Deps, m: Move) -> MigrationRecord:
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
    mark(deps, m)
    return record(deps, m, "completed", hv.completed(o.dest, o.vm), "")


def mark(deps: Deps, m: Move) -> None:
    """The epoch and ids in the destination's definition; a failure to write them is a
    step of the record, not a failed migration (the VM has moved)."""
    o = m.order
    try:
        deps.hv.mark_migrated(o.dest, o.vm, epoch=o.epoch, migration_id=o.id, plan_id=o.plan_id)
    except BalancerError as exc:
        log.warning("%s: migration metadata not written on %s: %s", o.vm, o.dest, exc)
        m.step(deps.clock(), "mark-failed", f"migration metadata not written: {exc}")


def build(
    deps: Deps, m: Move, result: Result, stats: Completed | None, detail: str
) -> MigrationRecord:
    now, o = deps.clock(), m.order
    ended = result != "running"
    actual = None
    if ended and result not in ("fenced", "cancelled"):
        actual = Actual(
            duration_s=stats.elapsed_ms / 1000 if stats else now - m.started,
            downtime_ms=float(stats.downtime_ms) if stats else None,
            bytes=stats.bytes if stats else None,
            nonzero_bytes=stats.nonzero_bytes if stats else None,
        )
    return MigrationRecord(
        id=o.id,
        plan_id=o.plan_id,
        vm=o.vm,
        source=o.source,
        dest=o.dest,
        mode=o.mode,
        reason=o.reason.value,
        epoch=o.epoch,
        started_at=m.started,
        finished_at=now if ended else None,
        result=result,
        finished_by=m.finished_by if result == "completed" else "",
        predicted=o.predicted,
        actual=actual,
        steps=tuple(m.steps),
        detail=detail,
    )


def record(
    deps: Deps, m: Move, result: Result, stats: Completed | None, detail: str
) -> MigrationRecord:
    """Write the ended record; while Redis is away, try again for ``RECORD_WAIT_S`` (the
    migration has ended: its record must not be lost to a Redis restart), then raise
    ``RetryableError`` (the task is retried; the move converges and is recorded then)."""
    out = build(deps, m, result, stats, detail)
    give_up = deps.clock() + RECORD_WAIT_S
    while True:
        try:
            deps.rec.outcome(out)
            break
        except RetryableError as exc:
            if deps.clock() >= give_up:
                raise
            log.warning("%s: record not written yet (%s); retrying", m.order.vm, exc)
            deps.sleep(RECORD_RETRY_S)
    o = m.order
    log.info("%s %s→%s: %s %s", o.vm, o.source, o.dest, result, detail)
    return out


def record_running(deps: Deps, m: Move) -> None:
    """The running record (a retry if Redis is away now; the migration has not started)."""
    deps.rec.running(build(deps, m, "running", None, ""))
    m.running = True
