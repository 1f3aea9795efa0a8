"""The executor's state machine for one move: preflight → migrate → watch → ladder → verify.

    executor = Executor(hypervisor, coordinator, recorder, clock=time.time, sleep=time.sleep)
    outcome = executor.run(order, token=task_id)

Every exit either returns an ``Outcome`` (also recorded) or raises from the one error
tree: ``BusyError`` (retry later), ``PreflightError``, ``MigrationAbortedError`` (the VM runs
on its source), ``VerifyError``. A second delivery of the same move converges: the VM on
the destination already → "already-there"; its migration still running → watched to the
end, never started twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from balancer.errors import (
    BalancerError,
    BusyError,
    MigrationAbortedError,
    PreflightError,
    VerifyError,
)
from workers.executor.coordination import Coordinator, SlotLimits
from workers.executor.hypervisor import Completed, Domain, Hypervisor, JobSample, MigrationRun
from workers.executor.ladder import Rung, StallDetector, postcopy_refusal, rungs_for
from workers.executor.order import MigrationOrder
from workers.executor.records import Actual, Outcome, Progress, Recorder, Result, Step

log = logging.getLogger(__name__)
MIB = 1024 * 1024


@dataclass
class _Watch:
    order: MigrationOrder
    started: float
    steps: list[Step]
    suspended: bool = False
    finished_by: str = ""


class Executor:
    def __init__(
        self,
        hv: Hypervisor,
        coordinator: Coordinator,
        recorder: Recorder,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        slot_wait_s: float = 30.0,
    ) -> None:
        self.hv, self.coord, self.rec = hv, coordinator, recorder
        self.clock, self.sleep, self.slot_wait_s = clock, sleep, slot_wait_s

    def run(self, order: MigrationOrder, token: str) -> Outcome:
        self.coord.acquire_lease(order.vm, token)
        try:
            return self._run_leased(order, token)
        finally:
            self.coord.release_lease(order.vm, token)

    # -- preflight -----------------------------------------------------------------
    def _run_leased(self, order: MigrationOrder, token: str) -> Outcome:
        w = _Watch(order, self.clock(), [])
        src = self.hv.domain(order.source, order.vm)
        dst = self.hv.domain(order.dest, order.vm)
        if src is None and dst is not None and not dst.job_active:
            self._step(w, "converged", "VM already on the destination (earlier delivery)")
            return self._verify_and_record(w, "already-there")
        if src is None:
            raise PreflightError(f"{order.vm} is on neither {order.source} nor {order.dest}")
        self._take_slots(order, token)
        w.started = self.clock()  # the migration's own time starts with its slots
        try:
            if src.job_active:
                self._step(w, "adopt", "a migration of this VM is already running")
                self._watch(w, None, token)
            else:
                self._preflight(order, src, dst)
                run = self._start(w)
                self._watch(w, run, token)
            return self._verify_and_record(w, "migrated")
        except MigrationAbortedError as exc:
            self._record(w, "aborted", None, str(exc))
            raise
        except BalancerError as exc:
            if not isinstance(exc, BusyError | VerifyError):
                self._record(w, "failed", None, str(exc))
            raise
        finally:
            self.coord.release_slots(order.source, order.dest, token)

    def _preflight(self, order: MigrationOrder, src: Domain, dst: Domain | None) -> None:
        if dst is not None:
            raise PreflightError(f"{order.vm} is defined on both {order.source} and {order.dest}")
        want = "shutoff" if order.mode == "offline" else order.expected_state
        if src.state != want:
            raise PreflightError(f"{order.vm} is {src.state} on {order.source}, expected {want}")
        self.hv.domains(order.dest)  # the destination answers on a live connection
        if not self.hv.accepts_cpu(order.vm, order.source, order.dest):
            raise PreflightError(f"{order.dest} does not accept the CPU of {order.vm}")

    def _take_slots(self, order: MigrationOrder, token: str) -> None:
        limits = SlotLimits(order.outbound_slots, order.inbound_slots, order.cluster_slots)
        deadline = self.clock() + self.slot_wait_s
        while True:
            try:
                self.coord.acquire_slots(order.source, order.dest, token, limits)
                return
            except BusyError:
                if self.clock() >= deadline:
                    raise
                self.sleep(0.2)

    # -- migrate and watch ---------------------------------------------------------
    def _start(self, w: _Watch) -> MigrationRun:
        o = w.order
        postcopy = postcopy_refusal(o) == ""
        self._step(w, "start", f"mode {o.mode}", o.ladder.initial_downtime_ms)
        return self.hv.start(
            o.vm,
            o.source,
            o.dest,
            o.mode,
            bandwidth_mib_s=o.bandwidth_mib_s,
            max_downtime_ms=o.ladder.initial_downtime_ms,
            postcopy=postcopy and o.mode in ("live", "live-postcopy"),
            copy_storage=o.copy_storage,
        )

    def _watch(self, w: _Watch, run: MigrationRun | None, token: str) -> None:
        o, cfg = w.order, w.order.ladder
        rungs, skipped = rungs_for(o)
        for name, why in skipped:
            self._step(w, f"skip-{name}", why)
        bw = int(o.bandwidth_mib_s * MIB) if o.bandwidth_mib_s else None
        stall = StallDetector(cfg.stall_iterations, cfg.stall_s, bw)
        deadline = w.started + cfg.timeout_s(o.memory_mib)
        next_rung_at = 0.0
        while True:
            if run is not None and run.done():
                break
            sample = self.hv.job(o.source, o.vm)
            if sample is None and run is None:
                break  # adopted job ended
            now = self.clock()
            self.coord.renew(o.vm, o.source, o.dest, token)
            if sample is not None:
                self._publish(w, sample)
                planned = o.mode == "live-postcopy" and not postcopy_refusal(o)
                if planned and sample.iteration >= 1 and not sample.postcopy:
                    rungs = self._climb(w, [Rung("postcopy")], "planned post-copy") or rungs
                reason = stall.observe(sample, now)
                if reason and rungs and now >= next_rung_at and not sample.postcopy:
                    rungs = self._climb(w, rungs, reason)
                    next_rung_at = now + cfg.step_grace_s
            if now >= deadline:
                self._abort(w, run, f"completion timeout {deadline - w.started:.0f} s")
            self.sleep(cfg.poll_s)
        if run is not None:
            run.result()

    def _climb(self, w: _Watch, rungs: list[Rung], reason: str) -> list[Rung]:
        o, rung = w.order, rungs[0]
        if rung.step == "downtime" and rung.value is not None:
            self.hv.set_max_downtime(o.source, o.vm, rung.value)
        elif rung.step == "postcopy":
            self.hv.start_postcopy(o.source, o.vm)
        elif rung.step == "suspend":
            self.hv.suspend(o.source, o.vm)
            w.suspended = True
        self._step(w, rung.step, reason, rung.value)
        w.finished_by = rung.step
        return rungs[1:]

    def _abort(self, w: _Watch, run: MigrationRun | None, reason: str) -> None:
        o = w.order
        self._step(w, "abort", reason)
        self.hv.abort(o.source, o.vm)
        settle = self.clock() + 120
        while run is not None and not run.done() and self.clock() < settle:
            self.sleep(0.2)  # the job winds down; the VM stays on the source
        if w.suspended:
            self.hv.resume(o.source, o.vm)
            self._step(w, "resume", "resumed on the source after the abort")
        raise MigrationAbortedError(f"{o.vm}: {reason}; it stays on {o.source}")

    def _publish(self, w: _Watch, s: JobSample) -> None:
        o = w.order
        self.rec.progress(
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
                ladder=tuple(st.step for st in w.steps),
            )
        )

    # -- verify and record ---------------------------------------------------------
    def _verify_and_record(self, w: _Watch, result: Result) -> Outcome:
        o = w.order
        dst = self.hv.domain(o.dest, o.vm)
        src = self.hv.domain(o.source, o.vm)
        want = "shutoff" if o.mode == "offline" else o.expected_state
        if dst is not None and dst.state == "paused" and want == "running":
            self.hv.resume(o.dest, o.vm)
            self._step(w, "resume", "resumed on the destination (was paused to finish)")
            dst = self.hv.domain(o.dest, o.vm)
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
            self._record(w, "failed", None, detail)
            raise VerifyError(detail)
        return self._record(w, result, self.hv.completed(o.dest, o.vm), "")

    def _record(self, w: _Watch, result: Result, stats: Completed | None, detail: str) -> Outcome:
        now = self.clock()
        outcome = Outcome(
            vm=w.order.vm,
            source=w.order.source,
            dest=w.order.dest,
            mode=w.order.mode,
            result=result,
            started_at=w.started,
            ended_at=now,
            predicted=w.order.predicted,
            actual=Actual(
                duration_s=stats.elapsed_ms / 1000 if stats else now - w.started,
                downtime_ms=float(stats.downtime_ms) if stats else None,
                bytes=stats.bytes if stats else None,
            ),
            steps=tuple(w.steps),
            finished_by=w.finished_by if result == "migrated" else "",
            detail=detail,
        )
        self.rec.outcome(outcome)
        log.info("%s %s→%s: %s %s", outcome.vm, outcome.source, outcome.dest, result, detail)
        return outcome

    def _step(self, w: _Watch, step: str, reason: str, value: int | None = None) -> None:
        w.steps.append(
            Step(at_s=round(self.clock() - w.started, 3), step=step, reason=reason, value=value)
        )
