"""An in-memory hypervisor whose migrations follow the pre-copy model in (simulated) time.

Every host is a dict of VMs (``SimVm``); ``host_resources`` gives each host's active pools
and networks. The migrations themselves are ``sim_run.SimRun``. Time comes from ``clock``
(a ``SimClock`` for unit tests, ``time.monotonic`` for a real worker). ``calls`` lists
the actions taken (``("start", vm)``, ...), also appended as JSON lines to ``call_log``
when given (how a test sees what a worker process's hypervisor was asked to do).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from balancer.core.migration_model import Mode, first_pass_mib
from balancer.errors import MigrationAbortedError, PermanentError
from workers.executor.hypervisor import (
    Attachments,
    Completed,
    Domain,
    HostResources,
    JobSample,
    MigrationMark,
)
from workers.executor.sim_run import RunHandle, SimRun, advance
from workers.executor.sim_vm import SimClock, SimVm

__all__ = ["SimClock", "SimVm", "SimulatedHypervisor"]
MIB = 1024 * 1024


@dataclass
class SimulatedHypervisor:
    clock: Callable[[], float]
    default_bandwidth_mib_s: float = 100.0
    hosts: dict[str, dict[str, SimVm]] = field(default_factory=dict)
    host_resources: dict[str, HostResources] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    call_log: Path | None = None
    _runs: dict[str, SimRun] = field(default_factory=dict)
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

    def attachments(self, host: str, vm: str) -> Attachments:
        with self._lock:
            s = self.hosts[host][vm]
            return Attachments(
                pools=s.pools, remote_disks=s.remote_disks, unpooled=s.unpooled, networks=s.networks
            )

    def resources(self, host: str) -> HostResources:
        with self._lock:
            return self.host_resources.get(host, HostResources())

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
    ) -> RunHandle:
        with self._lock:
            self._call("start", vm)
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
            first = first_pass_mib(spec.memory_mib, spec.resident_mib)
            self._runs[vm] = SimRun(
                vm=vm,
                source=source,
                dest=dest,
                bandwidth=bandwidth_mib_s or self.default_bandwidth_mib_s,
                max_downtime_ms=max_downtime_ms,
                started=now,
                last=now,
                offline=offline,
                pending=0.0 if offline else first,
                postcopy_allowed=postcopy,
                resume_after=resume_after,
            )
            return RunHandle(vm, self._runs[vm], self._poll_done)

    def set_max_downtime(self, host: str, vm: str, ms: int) -> None:
        with self._lock:
            self._call("set_max_downtime", vm)
            self._advance_all()
            self._active(host, vm).max_downtime_ms = ms

    def start_postcopy(self, host: str, vm: str) -> None:
        with self._lock:
            self._call("start_postcopy", vm)
            self._advance_all()
            run = self._active(host, vm)
            if not run.postcopy_allowed:
                raise PermanentError("post-copy was not enabled when the migration started")
            run.postcopy = True

    def suspend(self, host: str, vm: str) -> None:
        with self._lock:
            self._call("suspend", vm)
            self._advance_all()
            self.hosts[host][vm].state = "paused"

    def resume(self, host: str, vm: str) -> None:
        with self._lock:
            self._call("resume", vm)
            self.hosts[host][vm].state = "running"

    def abort(self, host: str, vm: str) -> None:
        with self._lock:
            self._call("abort", vm)
            self._advance_all()
            run = self._active(host, vm)
            run.ended, run.error = True, "operation aborted: migration job: canceled by client"

    def mark_migrated(
        self, host: str, vm: str, *, epoch: int | None, migration_id: str, plan_id: str
    ) -> None:
        with self._lock:
            self._call("mark", vm)
            spec = self.hosts.get(host, {}).get(vm)
            if spec is None:
                raise PermanentError(f"{vm} is not on {host}")
            spec.mark = MigrationMark(epoch=epoch, id=migration_id, plan=plan_id)

    def _call(self, what: str, vm: str) -> None:
        self.calls.append((what, vm))
        if self.call_log is not None:
            with self.call_log.open("a") as f:
                f.write(json.dumps([what, vm]) + "\n")

    # -- time ----------------------------------------------------------------------
    def _active(self, host: str, vm: str) -> SimRun:
        run = self._runs.get(vm)
        if run is None or run.ended or run.source != host:
            raise PermanentError(f"no migration job for {vm} on {host}")
        return run

    def _advance_all(self) -> None:
        now = self.clock()
        for run in self._runs.values():
            if not run.ended:
                self._advance(run, now)

    def _advance(self, run: SimRun, now: float) -> None:
        spec = self.hosts[run.source][run.vm]
        at = advance(run, spec, now)
        if at is None:
            return
        del self.hosts[run.source][run.vm]  # landed: the VM is on its destination
        self.hosts.setdefault(run.dest, {})[run.vm] = spec
        first = 0.0 if run.offline else first_pass_mib(spec.memory_mib, spec.resident_mib)
        self._completed[(run.dest, run.vm)] = Completed(
            elapsed_ms=int((at - run.started) * 1000),
            downtime_ms=int(run.downtime_ms),
            bytes=int(run.total_sent * MIB),
            memory_total=0 if run.offline else int(spec.memory_mib * MIB),
            zero_bytes=0 if run.offline else int((spec.memory_mib - first) * MIB),
        )

    def _poll_done(self, run: SimRun) -> bool:
        with self._lock:
            if not run.ended:
                self._advance(run, self.clock())
            return run.ended
