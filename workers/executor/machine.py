"""The executor's state machine for one move: preflight → migrate → watch → ladder → verify.

    executor = Executor(hypervisor, coordinator, recorder, clock=time.time, sleep=time.sleep)
    outcome = executor.run(order, token=task_id)

Every exit either returns an ``Outcome`` (also recorded) or raises from the one error
tree: ``BusyError`` (retry later), ``PreflightError``, ``MigrationAbortedError`` (the VM runs
on its source), ``VerifyError``. A second delivery of the same move converges: the VM on
the destination already → "already-there"; its migration still running → watched to the
end, never started twice. The steps live in ``preflight``, ``watch`` and ``verify``.
"""

from __future__ import annotations

from collections.abc import Callable

from balancer.errors import (
    BalancerError,
    BusyError,
    MigrationAbortedError,
    PreflightError,
    VerifyError,
)
from workers.executor.coordination import Coordinator
from workers.executor.hypervisor import Hypervisor
from workers.executor.move import Deps, Move
from workers.executor.order import MigrationOrder
from workers.executor.preflight import preflight, take_slots
from workers.executor.records import Outcome, Recorder
from workers.executor.verify import record, verify_and_record
from workers.executor.watch import start, watch


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
        self.deps = Deps(hv, coordinator, recorder, clock, sleep)
        self.slot_wait_s = slot_wait_s

    def run(self, order: MigrationOrder, token: str) -> Outcome:
        self.deps.coord.acquire_lease(order.vm, token)
        try:
            return self._run_leased(order, token)
        finally:
            self.deps.coord.release_lease(order.vm, token)

    def _run_leased(self, order: MigrationOrder, token: str) -> Outcome:
        d = self.deps
        m = Move(order, d.clock())
        src = d.hv.domain(order.source, order.vm)
        dst = d.hv.domain(order.dest, order.vm)
        if src is None and dst is not None and not dst.job_active:
            m.step(d.clock(), "converged", "VM already on the destination (earlier delivery)")
            return verify_and_record(d, m, "already-there")
        if src is None:
            raise PreflightError(f"{order.vm} is on neither {order.source} nor {order.dest}")
        take_slots(d, order, token, self.slot_wait_s)
        m.started = d.clock()  # the migration's own time starts with its slots
        try:
            if src.job_active:
                m.step(d.clock(), "adopt", "a migration of this VM is already running")
                watch(d, m, None, token)
            else:
                preflight(d, order, src, dst)
                watch(d, m, start(d, m), token)
            return verify_and_record(d, m, "migrated")
        except MigrationAbortedError as exc:
            record(d, m, "aborted", None, str(exc))
            raise
        except BalancerError as exc:
            if not isinstance(exc, BusyError | VerifyError):
                record(d, m, "failed", None, str(exc))
            raise
        finally:
            d.coord.release_slots(order.source, order.dest, token)
