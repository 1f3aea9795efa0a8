"""The executor's state machine for one move: fence → preflight → migrate → watch → ladder
→ verify.

    executor = Executor(hypervisor, Fence(client), Coordinator(client), RedisRecorder(client),
                        clock=time.time, sleep=time.sleep)
    record = executor.run(order, token=task_id)

The fence (``fence.py``) is passed before the VM's lease is taken, right before the
migration starts and before every ladder rung: a stale epoch or a cancelled move comes
back as a record with result ``fenced`` / ``cancelled`` (nothing started, nothing
failed). Every other exit either returns a ``MigrationRecord`` (also recorded) or raises
from the one error tree: ``RetryableError`` (``BusyError``: a lease or slot is held;
Redis or a host unreachable — never recorded as a failure: the task is retried and
adopts a migration still running), ``PreflightError``, ``MigrationAbortedError`` (the VM
runs on its source), ``VerifyError`` (those three recorded ``failed``). A second delivery
of the same move converges: the VM on the destination already → ``completed`` with a
``converged`` step; its migration still running → watched to the end (``adopt``), never
started twice. The steps live in ``preflight``, ``watch`` and ``verify``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import msgspec

from balancer.errors import (
    BalancerError,
    BusyError,
    MigrationAbortedError,
    PreflightError,
    RefusedError,
    RetryableError,
    VerifyError,
)
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.hypervisor import Hypervisor
from workers.executor.move import Deps, Move
from workers.executor.order import MigrationOrder
from workers.executor.preflight import preflight, take_slots
from workers.executor.records import MigrationRecord, Recorder
from workers.executor.verify import record, record_running, verify_and_record
from workers.executor.watch import halt, start, watch

log = logging.getLogger(__name__)


class Executor:
    def __init__(
        self,
        hv: Hypervisor,
        fence: Fence,
        slots: Coordinator,
        recorder: Recorder,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        slot_wait_s: float = 30.0,
    ) -> None:
        self.deps = Deps(hv, fence, slots, recorder, clock, sleep)
        self.slot_wait_s = slot_wait_s

    def run(self, order: MigrationOrder, token: str) -> MigrationRecord:
        """Carry ``order`` out under the task's ``token`` (its id is ``token`` when the
        order names none)."""
        if not order.id:
            order = msgspec.structs.replace(order, id=token)
        d, m = self.deps, Move(order, token, self.deps.clock())
        lease = d.fence.keys.lease(order.vm)
        try:
            d.fence.check(lease, m.ticket)
        except RefusedError as exc:
            if not self._started_and_running(order):
                return refused(d, m, exc)
            # A redelivery of this very order, whose migration runs on: watched to the
            # end under the lease it holds, no rung climbed.
            halt(d, m, exc.result, str(exc))
            if (other := d.fence.renew(lease, m.ticket)) is not None:
                raise BusyError(f"{order.vm} is held by another task ({other})") from None
        try:
            return self._run_leased(m)
        finally:
            _release(f"lease of {order.vm}", lambda: d.fence.release(lease, token))

    def _started_and_running(self, order: MigrationOrder) -> bool:
        """This order started a migration (its running record) that still runs."""
        if not self.deps.rec.started(order.id):
            return False
        src = self.deps.hv.domain(order.source, order.vm)
        return src is not None and src.job_active

    def give_up(self, order: MigrationOrder, token: str, detail: str) -> MigrationRecord:
        """Record ``order`` failed: its task stops retrying (a migration still running
        then is watched by nobody; it lands or its job ends on its own)."""
        if not order.id:
            order = msgspec.structs.replace(order, id=token)
        return record(self.deps, Move(order, token, self.deps.clock()), "failed", None, detail)

    def _run_leased(self, m: Move) -> MigrationRecord:
        d, order = self.deps, m.order
        src = d.hv.domain(order.source, order.vm)
        dst = d.hv.domain(order.dest, order.vm)
        if src is None and dst is not None and not dst.job_active:
            m.step(d.clock(), "converged", "VM already on the destination (earlier delivery)")
            return verify_and_record(d, m)
        if src is None:
            detail = f"{order.vm} is on neither {order.source} nor {order.dest}"
            record(d, m, "failed", None, detail)
            raise PreflightError(detail)
        take_slots(d, m, self.slot_wait_s)
        m.started = d.clock()  # the migration's own time starts with its slots
        try:
            if src.job_active:
                m.step(d.clock(), "adopt", "a migration of this VM is already running")
                _adopted_record(d, m)
                watch(d, m, None)
            else:
                preflight(d, order, src, dst)
                d.fence.check(d.fence.keys.lease(order.vm), m.ticket)  # right before start
                record_running(d, m)
                watch(d, m, start(d, m))
            return verify_and_record(d, m)
        except RefusedError as exc:
            return refused(d, m, exc)
        except MigrationAbortedError as exc:
            record(d, m, "failed", None, f"aborted: {exc}")
            raise
        except RetryableError:
            raise  # a lease, a slot, Redis or a host away: retried, never a failure
        except BalancerError as exc:
            if not isinstance(exc, VerifyError):  # verify records its own
                record(d, m, "failed", None, str(exc))
            raise
        finally:
            _release(f"slots of {order.vm}",
                     lambda: d.slots.release_slots(order.source, order.dest, m.token))  # fmt: skip


def refused(deps: Deps, m: Move, exc: RefusedError) -> MigrationRecord:
    """The fence refused the move before anything started: recorded as such."""
    m.step(deps.clock(), exc.result, str(exc))
    return record(deps, m, "fenced" if exc.result == "fenced" else "cancelled", None, str(exc))


def _adopted_record(deps: Deps, m: Move) -> None:
    """The running record of an adopted migration; with Redis away it is watched anyway."""
    try:
        record_running(deps, m)
    except RetryableError as exc:
        log.warning("%s: running record not written: %s", m.order.vm, exc)


def _release(what: str, release: Callable[[], object]) -> None:
    """Give back a lease or slots; with Redis away they expire on their own (30 s)."""
    try:
        release()
    except RetryableError as exc:
        log.warning("%s not released (it expires on its own): %s", what, exc)
