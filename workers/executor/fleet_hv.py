"""The ``Hypervisor`` Protocol on the simulated fleet's shared state in Redis
(``balancer.fleet.store``), in fleet time.

Every worker process (and the fleet process itself) acts on the same simulated hosts: a
VM's host is one field of ``sim:placement``; a migration is a run text in ``sim:runs``
that only grows (its start, then the ladder's events), replayed by whoever polls it with
the pre-copy model (``balancer.fleet.runs``), so two processes polling one run agree; the
first to see it ended lands it with one atomic script that moves the VM from its source
only if it is still there and the run is still the one replayed. A host that is off (or
still booting) answers like an unreachable libvirt: ``RetryableError``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from balancer.core.migration_model import Mode
from balancer.core.models import Host
from balancer.errors import MigrationAbortedError, PermanentError, RetryableError
from balancer.fleet.runs import (
    EventKind,
    RunEvent,
    RunSpec,
    RunView,
    encode_event,
    encode_run,
    pauses_guest,
    run_id_of,
)
from balancer.fleet.store import FleetStore, Mark
from workers.executor.hypervisor import (
    Attachments,
    Completed,
    Domain,
    DomState,
    HostResources,
    JobSample,
)

_ATTEMPTS = 20
_STATES: dict[str, DomState] = {"running": "running", "paused": "paused", "shutoff": "shutoff"}


class FleetHypervisor:
    def __init__(self, store: FleetStore, clock: Callable[[], float]) -> None:
        self.store, self.clock = store, clock

    # -- reading -------------------------------------------------------------------
    def domain(self, host: str, vm: str) -> Domain | None:
        self._up(host)
        where, state, view = self._settle(vm)
        if where != host:
            return None
        return Domain(
            state=_STATES.get(state, "other"), persistent=True, job_active=view is not None
        )

    def domains(self, host: str) -> tuple[str, ...]:
        self._up(host)
        return self.store.host_vms(host)

    def accepts_cpu(self, vm: str, source: str, dest: str) -> bool:
        src, dst = self._up(source), self._up(dest)
        return (src.cpu.vendor, src.cpu.model) == (dst.cpu.vendor, dst.cpu.model)

    def attachments(self, host: str, vm: str) -> Attachments:
        facts = self._up(host)
        if self.store.where(vm) != host:
            raise PermanentError(f"{vm} is not on {host}")
        return Attachments(pools=facts.storage_pools, networks=facts.networks)

    def resources(self, host: str) -> HostResources:
        facts = self._up(host)
        return HostResources(pools=facts.storage_pools, networks=facts.networks)

    def job(self, host: str, vm: str) -> JobSample | None:
        _where, _state, view = self._settle(vm)
        if view is None or view.spec.source != host:
            return None
        return view.job()

    def completed(self, host: str, vm: str) -> Completed | None:
        ended = self.store.ended(vm)
        if ended is None or ended.result != "landed" or ended.dest != host:
            return None
        return Completed(
            elapsed_ms=ended.elapsed_ms,
            downtime_ms=ended.downtime_ms,
            bytes=ended.bytes,
            memory_total=ended.memory_total,
            zero_bytes=ended.zero_bytes,
        )

    def mark(self, vm: str) -> Mark | None:
        """The mark ``mark_migrated`` left on the VM's domain, if any."""
        return self.store.mark(vm)

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
    ) -> FleetRun:
        facts = self.store.vm(vm)
        if facts is None:
            raise PermanentError(f"no simulated VM {vm!r}")
        src, dst = self._up(source), self._up(dest)
        where, state, view = self._settle(vm)
        if view is not None:
            raise MigrationAbortedError(f"{vm}: a migration job is already running")
        if where != source:
            raise PermanentError(f"{vm} is not on {source}")
        now = self.clock()
        link = min(src.migration_bandwidth_mib_s, dst.migration_bandwidth_mib_s)
        spec = RunSpec(
            id=uuid.uuid4().hex,
            vm=vm,
            source=source,
            dest=dest,
            mode=mode,
            started=now,
            bandwidth_mib_s=min(link, bandwidth_mib_s) if bandwidth_mib_s else link,
            memory_mib=facts.memory_mib,
            nonzero_mib=facts.nonzero_mib,
            dirty_mib_s=self.store.dirty_rate(facts, now),
            working_set_mib=facts.working_set_mib,
            max_downtime_ms=max_downtime_ms,
            postcopy_allowed=postcopy,
            state=_STATES.get(state, "running"),
        )
        verdict, detail = self.store.start_run(
            vm, source, dest, encode_run(spec), now, pauses_guest(spec)
        )
        if verdict == "busy":
            raise MigrationAbortedError(f"{vm}: a migration job is already running")
        if verdict in ("source-off", "dest-off"):
            host = source if verdict == "source-off" else dest
            raise RetryableError(f"connect {host}: the simulated host is not up")
        if verdict != "ok":
            raise PermanentError(f"{vm} is not on {source} ({verdict} {detail})".strip())
        return FleetRun(self, vm, spec.id)

    def set_max_downtime(self, host: str, vm: str, ms: int) -> None:
        self._event(host, vm, "downtime", ms)

    def start_postcopy(self, host: str, vm: str) -> None:
        self._event(host, vm, "postcopy", 0)

    def suspend(self, host: str, vm: str) -> None:
        self._guest(host, vm, "suspend")

    def resume(self, host: str, vm: str) -> None:
        self._guest(host, vm, "resume")

    def abort(self, host: str, vm: str) -> None:
        self._event(host, vm, "abort", 0)
        self._settle(vm)

    def mark_migrated(
        self, host: str, vm: str, *, epoch: int | None, migration_id: str, plan_id: str
    ) -> None:
        """Record on the VM's domain (on ``host``) the migration that moved it and the
        fencing epoch it ran under (libvirt: the domain's kvm-balancer metadata)."""
        mark = Mark(host=host, epoch=epoch, id=migration_id, plan_id=plan_id, at=self.clock())
        if not self.store.set_mark(vm, mark):
            raise PermanentError(f"{vm} is not on {host}")

    # -- the shared state ------------------------------------------------------------
    def _up(self, host: str) -> Host:
        """The host's facts if it is on; an off or booting host cannot be reached."""
        facts = self.store.host(host)
        if facts is None:
            raise PermanentError(f"no simulated host {host!r}")
        power = self.store.power(host)
        state = "off" if power is None else power.effective(self.clock())
        if state != "on":
            raise RetryableError(f"connect {host}: the simulated host is {state}")
        return facts

    def _settle(self, vm: str) -> tuple[str | None, str, RunView | None]:
        return self.store.settle(vm, self.clock())

    def _event(self, host: str, vm: str, kind: EventKind, value: int, guest: str = "") -> None:
        for _ in range(_ATTEMPTS):
            _where, _state, view = self._settle(vm)
            if view is None or view.spec.source != host:
                raise PermanentError(f"no migration job for {vm} on {host}")
            if kind == "postcopy" and not view.spec.postcopy_allowed:
                raise PermanentError("post-copy was not enabled when the migration started")
            line = encode_event(RunEvent(self.clock(), kind, value))
            if self.store.add_event(vm, view.spec.id, line, guest):
                return
        raise RetryableError(f"{vm}: its migration kept changing while being read")

    def _guest(self, host: str, vm: str, kind: EventKind) -> None:
        """Pause or resume the guest; a migration running from ``host`` hears of it."""
        guest = "paused" if kind == "suspend" else "running"
        for _ in range(_ATTEMPTS):
            where, _state, view = self._settle(vm)
            if view is not None and view.spec.source == host:
                self._event(host, vm, kind, 0, guest)
                return
            if where != host:
                raise PermanentError(f"{vm} is not on {host}")
            if self.store.set_guest_state(vm, host, guest):
                return
        raise RetryableError(f"{vm}: its migration kept changing while being read")


class FleetRun:
    """``MigrationRun`` of a fleet migration: done once it has landed or ended."""

    def __init__(self, hv: FleetHypervisor, vm: str, run_id: str) -> None:
        self.hv, self.vm, self.run_id = hv, vm, run_id

    def done(self) -> bool:
        self.hv._settle(self.vm)
        raw = self.hv.store.run(self.vm)
        return raw is None or run_id_of(raw) != self.run_id

    def result(self) -> None:
        if not self.done():
            raise PermanentError(f"{self.vm}: result() before the migration ended")
        ended = self.hv.store.ended(self.vm)
        if ended is None or ended.id != self.run_id:
            raise PermanentError(f"{self.vm}: how migration {self.run_id} ended is not known")
        if ended.result == "aborted":
            raise MigrationAbortedError(f"{self.vm}: {ended.error}")
        if ended.result != "landed":
            raise PermanentError(f"{self.vm}: left {ended.source} some other way ({ended.result})")
