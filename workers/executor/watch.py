"""Migrate and watch: start the migration with the plan's mode, poll ``jobStats()``,
publish progress, renew the lease and slots, climb the fallback ladder on a stall, abort
on the completion timeout (the VM stays on its source, resumed there if the ladder had
paused it).

Every rung passes the fence first (``Fence.check``). Refused — the order's epoch went
stale, the move was cancelled, another task holds the lease — the ladder stops for good
(``Move.halted``) and the migration runs on as it is: it lands, or the completion timeout
aborts it (abort and resume are not fenced: they leave the VM where it was). Redis away
during a poll: progress and renewal are skipped and no rung is climbed (the fence could
not answer), the job is watched on; a transient Redis error never fails a migration.
"""

from __future__ import annotations

import logging

from balancer.errors import BusyError, MigrationAbortedError, RefusedError, RetryableError
from workers.executor.hypervisor import JobSample, MigrationRun
from workers.executor.ladder import Rung, StallDetector, postcopy_refusal, rungs_for
from workers.executor.move import Deps, Move
from workers.executor.records import Progress

log = logging.getLogger(__name__)
MIB = 1024 * 1024
ABORT_SETTLE_S = 120.0


def start(deps: Deps, m: Move) -> MigrationRun:
    o = m.order
    postcopy = postcopy_refusal(o) == ""
    m.step(deps.clock(), "start", f"mode {o.mode}", o.ladder.initial_downtime_ms)
    return deps.hv.start(
        o.vm,
        o.source,
        o.dest,
        o.mode,
        bandwidth_mib_s=o.bandwidth_mib_s,
        max_downtime_ms=o.ladder.initial_downtime_ms,
        postcopy=postcopy and o.mode in ("live", "live-postcopy"),
        copy_storage=o.copy_storage,
    )


def watch(deps: Deps, m: Move, run: MigrationRun | None) -> None:
    """Until the migration ends (``run`` is ``None`` for an adopted job: until the source
    has no job left)."""
    o, cfg = m.order, m.order.ladder
    rungs, skipped = rungs_for(o)
    for name, why in skipped:
        m.step(deps.clock(), f"skip-{name}", why)
    bw = int(o.bandwidth_mib_s * MIB) if o.bandwidth_mib_s else None
    stall = StallDetector(cfg.stall_iterations, cfg.stall_s, bw)
    deadline = m.started + cfg.timeout_s(o.memory_mib)
    next_rung_at = 0.0
    while True:
        if run is not None and run.done():
            break
        sample = deps.hv.job(o.source, o.vm)
        if sample is None and run is None:
            break  # adopted job ended
        now = deps.clock()
        renew(deps, m)
        if sample is not None:
            publish(deps, m, sample)
            planned = o.mode == "live-postcopy" and not postcopy_refusal(o)
            if planned and sample.iteration >= 1 and not sample.postcopy and not m.halted:
                climb(deps, m, [Rung("postcopy")], "planned post-copy")
            reason = stall.observe(sample, now)
            if reason and rungs and now >= next_rung_at and not sample.postcopy:
                rungs = climb(deps, m, rungs, reason)
                next_rung_at = now + cfg.step_grace_s
        if now >= deadline:
            abort(deps, m, run, f"completion timeout {deadline - m.started:.0f} s")
        deps.sleep(cfg.poll_s)
    if run is not None:
        run.result()


def renew(deps: Deps, m: Move) -> None:
    o = m.order
    lease = deps.fence.keys.lease(o.vm)
    try:
        other = deps.fence.renew(lease, m.ticket, deps.slots.slot_keys(o.source, o.dest))
    except RetryableError as exc:
        log.warning("%s: lease not renewed this poll: %s", o.vm, exc)
        return
    if other is not None and not m.halted:
        halt(deps, m, "lost", f"the lease is held by another task ({other})")


def halt(deps: Deps, m: Move, step: str, reason: str) -> None:
    """No further rung for this migration; it runs on as it is."""
    m.halted = reason
    m.step(deps.clock(), step, f"{reason}: no further ladder step, the migration runs on")
    log.warning("%s: %s", m.order.vm, reason)


def fenced(deps: Deps, m: Move, rung: Rung) -> bool:
    """Whether the fence refuses ``rung`` now (and stops the ladder when it is for good)."""
    if m.halted:
        return True
    try:
        deps.fence.check(deps.fence.keys.lease(m.order.vm), m.ticket)
    except RefusedError as exc:
        halt(deps, m, exc.result, str(exc))
        return True
    except BusyError as exc:
        halt(deps, m, "lost", str(exc))
        return True
    except RetryableError as exc:
        log.warning("%s: %s not taken, the fence cannot answer: %s", m.order.vm, rung.step, exc)
        return True
    return False


def climb(deps: Deps, m: Move, rungs: list[Rung], reason: str) -> list[Rung]:
    """Take the first rung if the fence allows it; the rest are left (none once the fence
    has stopped the ladder; all of them when Redis could not answer this time)."""
    o, rung = m.order, rungs[0]
    if fenced(deps, m, rung):
        return [] if m.halted else rungs
    if rung.step == "downtime" and rung.value is not None:
        deps.hv.set_max_downtime(o.source, o.vm, rung.value)
    elif rung.step == "postcopy":
        deps.hv.start_postcopy(o.source, o.vm)
    elif rung.step == "suspend":
        deps.hv.suspend(o.source, o.vm)
        m.suspended = True
    m.step(deps.clock(), rung.step, reason, rung.value)
    m.finished_by = rung.step
    return rungs[1:]


def abort(deps: Deps, m: Move, run: MigrationRun | None, reason: str) -> None:
    o = m.order
    m.step(deps.clock(), "abort", reason)
    deps.hv.abort(o.source, o.vm)
    settle = deps.clock() + ABORT_SETTLE_S
    while run is not None and not run.done() and deps.clock() < settle:
        deps.sleep(0.2)  # the job winds down; the VM stays on the source
    if m.suspended:
        deps.hv.resume(o.source, o.vm)
        m.step(deps.clock(), "resume", "resumed on the source after the abort")
    raise MigrationAbortedError(f"{o.vm}: {reason}; it stays on {o.source}")


def publish(deps: Deps, m: Move, s: JobSample) -> None:
    o = m.order
    try:
        _publish(deps, m, s)
    except RetryableError as exc:
        log.warning("%s: progress not published this poll: %s", o.vm, exc)


def _publish(deps: Deps, m: Move, s: JobSample) -> None:
    o = m.order
    deps.rec.progress(
        Progress(
            vm=o.vm,
            source=o.source,
            dest=o.dest,
            percent=round(s.percent, 1),
            remaining_bytes=s.remaining,
            iteration=s.iteration,
            dirty_rate_bytes_s=s.dirty_rate_pages_s * s.page_size,
            expected_downtime_ms=s.expected_downtime_ms,
            postcopy=s.postcopy,
            ladder=tuple(st.step for st in m.steps),
        )
    )
