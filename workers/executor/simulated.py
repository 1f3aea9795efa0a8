"""An in-memory hypervisor whose migrations follow the pre-copy model in (simulated) time.

Every host is a dict of VMs. A migration sends ``bandwidth`` MiB/s; each round re-sends
what the guest dirtied during the previous one (capped by its working set); it stops the
guest for the last round once that round fits in the max downtime. Post-copy finishes the
round in flight and ends; a suspended guest stops dirtying. Time comes from ``clock`` (a
``SimClock`` for unit tests, ``time.monotonic`` for a real worker).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from balancer.core.migration_model import Mode
from balancer.errors import MigrationAbortedError, PermanentError
from workers.executor.hypervisor import Completed, Domain, DomState, JobSample

MIB = 1024 * 1024
POSTCOPY_DOWNTIME_MS = 40


class SimClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


@dataclass
class SimVm:
    memory_mib: int
    dirty_mib_s: float = 0.0
    working_set_mib: float = 64.0
    state: DomState = "running"
    cpu_ok_on: frozenset[str] | None = None  # None: every host accepts its CPU


@dataclass
class _Run:
    vm: str
    source: str
    dest: str
    bandwidth: float
    max_downtime_ms: int
    started: float
    offline: bool
    last: float
    pending: float
    sent_in_round: float = 0.0
    dirtied: float = 0.0
    total_sent: float = 0.0
    iteration: int = 0
    postcopy: bool = False
    postcopy_allowed: bool = False
    ended: bool = False
    error: str | None = None
    downtime_ms: float = 0.0
    resume_after: bool = False


@dataclass
class SimulatedHypervisor:
    clock: Callable[[], float]
    default_bandwidth_mib_s: float = 100.0
    hosts: dict[str, dict[str, SimVm]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    _runs: dict[str, _Run] = field(default_factory=dict)
    _completed: dict[tuple[str, str], Completed] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def add(self, host: str, vm: str, spec: SimVm | None = None) -> None:
        self.hosts.setdefault(host, {})[vm] = spec or SimVm(memory_mib=1024)

    # -- reading -------------------------------------------------------------------
    def domain(self, host: str, vm: str) -> Domain | None:
        with self._lock:
            self._advance_all()
            spec = self.hosts.get(host, {}).get(vm)
            if spec is None:
                return None
            run = self._runs.get(vm)
            busy = run is not None and not run.ended and run.source == host
            return Domain(state=spec.state, persistent=True, job_active=busy)

    def domains(self, host: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self.hosts.get(host, {})))

    def accepts_cpu(self, vm: str, source: str, dest: str) -> bool:
        spec = self.hosts[source][vm]
        return spec.cpu_ok_on is None or dest in spec.cpu_ok_on

    def job(self, host: str, vm: str) -> JobSample | None:
        with self._lock:
            self._advance_all()
            run = self._runs.get(vm)
            if run is None or run.ended or run.source != host:
                return None
            spec = self.hosts[run.source][vm]
            dirty = 0.0 if spec.state != "running" else spec.dirty_mib_s
            return JobSample(
                elapsed_ms=int((self.clock() - run.started) * 1000),
                total=int(spec.memory_mib * MIB),
                processed=int(run.total_sent * MIB),
                remaining=int((run.pending - run.sent_in_round) * MIB),
                iteration=run.iteration,
                dirty_rate_pages_s=int(dirty * MIB / 4096) if run.iteration > 0 else 0,
                page_size=4096,
                bandwidth_bytes_s=int(run.bandwidth * MIB),
                expected_downtime_ms=int(run.pending / run.bandwidth * 1000),
                postcopy=run.postcopy,
            )

    def completed(self, host: str, vm: str) -> Completed | None:
        with self._lock:
            return self._completed.get((host, vm))

    # -- acting --------------------------------------------------------------------
    def start(
        self,
        vm: str,
        source: str,
        dest: str,
        mode: Mode,
        *,
        bandwidth_mib_s: float | None,
        max_downtime_ms: int,
        postcopy: bool,
        copy_storage: bool,
    ) -> _Handle:
        with self._lock:
            self.calls.append(("start", vm))
            spec = self.hosts.get(source, {}).get(vm)
            if spec is None:
                raise PermanentError(f"{vm} is not on {source}")
            if vm in self._runs and not self._runs[vm].ended:
                raise MigrationAbortedError(f"{vm}: a migration job is already running")
            offline = mode == "offline"
            resume_after = mode == "non-live" and spec.state == "running"
            if resume_after:
                spec.state = "paused"
            now = self.clock()
            self._runs[vm] = _Run(
                vm=vm,
                source=source,
                dest=dest,
                bandwidth=bandwidth_mib_s or self.default_bandwidth_mib_s,
                max_downtime_ms=max_downtime_ms,
                started=now,
                last=now,
                offline=offline,
                pending=0.0 if offline else float(spec.memory_mib),
                postcopy_allowed=postcopy,
                resume_after=resume_after,
            )
            return _Handle(self, vm, self._runs[vm])

    def set_max_downtime(self, host: str, vm: str, ms: int) -> None:
        with self._lock:
            self.calls.append(("set_max_downtime", vm))
            self._advance_all()
            self._active(host, vm).max_downtime_ms = ms

    def start_postcopy(self, host: str, vm: str) -> None:
        with self._lock:
            self.calls.append(("start_postcopy", vm))
            self._advance_all()
            run = self._active(host, vm)
            if not run.postcopy_allowed:
                raise PermanentError("post-copy was not enabled when the migration started")
            run.postcopy = True

    def suspend(self, host: str, vm: str) -> None:
        with self._lock:
            self.calls.append(("suspend", vm))
            self._advance_all()
            self.hosts[host][vm].state = "paused"

    def resume(self, host: str, vm: str) -> None:
        with self._lock:
            self.calls.append(("resume", vm))
            self.hosts[host][vm].state = "running"

    def abort(self, host: str, vm: str) -> None:
        with self._lock:
            self.calls.append(("abort", vm))
            self._advance_all()
            run = self._active(host, vm)
            run.ended, run.error = True, "operation aborted: migration job: canceled by client"

    # -- the model -----------------------------------------------------------------
    def _active(self, host: str, vm: str) -> _Run:
        run = self._runs.get(vm)
        if run is None or run.ended or run.source != host:
            raise PermanentError(f"no migration job for {vm} on {host}")
        return run

    def _advance_all(self) -> None:
        now = self.clock()
        for run in self._runs.values():
            if not run.ended:
                self._advance(run, now)

    def _advance(self, run: _Run, now: float) -> None:
        spec = self.hosts[run.source][run.vm]
        dt, run.last = now - run.last, now
        while dt > 1e-9 and not run.ended:
            left = run.pending - run.sent_in_round
            limit = run.bandwidth * run.max_downtime_ms / 1000.0
            if run.postcopy or (run.sent_in_round == 0 and run.pending <= limit):
                # Stop and copy the rest (post-copy: pages follow on demand, short pause).
                need = left / run.bandwidth
                if need > dt:
                    run.sent_in_round += run.bandwidth * dt
                    run.total_sent += run.bandwidth * dt
                    return
                run.total_sent += left
                run.downtime_ms = POSTCOPY_DOWNTIME_MS if run.postcopy else need * 1000
                self._finish(run, spec, now - dt + need)
                return
            step = min(dt, left / run.bandwidth)
            run.sent_in_round += run.bandwidth * step
            run.total_sent += run.bandwidth * step
            if spec.state == "running":
                run.dirtied = min(run.dirtied + spec.dirty_mib_s * step, spec.working_set_mib)
            dt -= step
            if run.pending - run.sent_in_round <= 1e-9:
                run.iteration += 1
                run.pending, run.sent_in_round, run.dirtied = run.dirtied, 0.0, 0.0

    def _finish(self, run: _Run, spec: SimVm, at: float) -> None:
        run.ended = True
        if run.resume_after:
            spec.state = "running"
        del self.hosts[run.source][run.vm]
        self.hosts.setdefault(run.dest, {})[run.vm] = spec
        self._completed[(run.dest, run.vm)] = Completed(
            elapsed_ms=int((at - run.started) * 1000),
            downtime_ms=int(run.downtime_ms),
            bytes=int(run.total_sent * MIB),
        )

    def _poll_done(self, run: _Run) -> bool:
        with self._lock:
            if not run.ended:
                self._advance(run, self.clock())
            return run.ended


class _Handle:
    def __init__(self, hv: SimulatedHypervisor, vm: str, run: _Run) -> None:
        self._hv, self.vm, self._run = hv, vm, run

    def done(self) -> bool:
        return self._hv._poll_done(self._run)

    def result(self) -> None:
        if not self.done():
            raise PermanentError(f"{self.vm}: result() before the migration ended")
        if self._run.error is not None:
            raise MigrationAbortedError(f"{self.vm}: {self._run.error}")
