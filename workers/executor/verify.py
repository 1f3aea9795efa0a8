"""Verify and record, as the guide verifies a migration (12.6): on the destination the
VM runs (resumed there if the ladder left it paused; an offline move: shut off), is
persistent, and has the disks and networks it had on its source (networks under the
names the destination XML rewrite gives them); on the source it is gone. A move that
copied disks then has the source's copies removed — an offline one also its definition,
which libvirt keeps until then — and only after that verification (``remove_source``).
Its definition on the destination is marked with the migration and its epoch; the
record — predicted vs actual duration, downtime and bytes, the steps with their reasons
— is written, also for failures and refusals (``MigrationRecord``,
``balancer.state.migrations``)."""

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
        problems += attachment_problems(deps, m)
    # An offline move that copied disks leaves the source's definition until cleanup.
    kept = o.mode == "offline" and o.copy_storage and src is not None and src.state == "shutoff"
    if src is not None and not kept:
        problems.append(f"still defined on {o.source} ({src.state})")
    if problems:
        detail = f"{o.vm}: " + "; ".join(problems)
        record(deps, m, "failed", None, detail)
        raise VerifyError(detail)
    stats = hv.completed(o.dest, o.vm)
    if o.copy_storage:
        remove_source(deps, m)
    mark(deps, m)
    return record(deps, m, "completed", stats, "")


def attachment_problems(deps: Deps, m: Move) -> list[str]:
    """What the destination's definition lacks of the disks and networks the VM had."""
    o, before = m.order, m.expected
    if before is None:
        return []  # adopted or converged: what it had was not read
    after = deps.hv.attachments(o.dest, o.vm)
    renamed = o.rewrite.networks if o.rewrite is not None else {}
    want_nets = sorted({renamed.get(n, n) for n in before.networks})
    out = []
    if after.targets != before.targets:
        out.append(f"disks {', '.join(after.targets) or 'none'} on {o.dest}, "
                   f"expected {', '.join(before.targets) or 'none'}")  # fmt: skip
    if list(after.networks) != want_nets:
        out.append(f"networks {', '.join(after.networks) or 'none'} on {o.dest}, "
                   f"expected {', '.join(want_nets) or 'none'}")  # fmt: skip
    return out


def remove_source(deps: Deps, m: Move) -> None:
    """After verification: the source's copies of the disks (and an offline move's source
    definition) go; the VM is then gone from its source as the guide's offline procedure
    leaves it (``--undefinesource``)."""
    o = m.order
    removed = deps.hv.remove_source(o.vm, o.source, o.dest, o.shared_pools)
    what = ", ".join(removed) or "no volume"
    m.step(deps.clock(), "remove-source", f"verified on {o.dest}; removed from {o.source}: {what}")
    left = deps.hv.domain(o.source, o.vm)
    if left is not None:
        detail = f"{o.vm}: still defined on {o.source} ({left.state}) after removal"
        record(deps, m, "failed", None, detail)
        raise VerifyError(detail)


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
            bandwidth_mib_s=_throughput(m, stats) if result == "completed" else None,
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


def _throughput(m: Move, stats: Completed | None) -> float | None:
    """The link's throughput a host-to-host migration reached: bytes over time between
    the source job's samples when they span a second or more, else the completed job's
    bytes over its elapsed time less set-up (an offline move's volumes stream through the
    worker: not the hosts' link)."""
    if stats is None or m.order.mode == "offline":
        return None
    bw = m.transfer_mib_s()
    if bw is None:
        bw = stats.bandwidth_mib_s
    return round(bw, 3) if bw is not None else None


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
