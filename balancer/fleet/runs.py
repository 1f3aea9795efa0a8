"""A simulated migration as data (pure): its start, the ladder's events, and its state at
any fleet time replayed from them with the pre-copy model of
``workers.executor.sim_run.advance``.

A run is stored as one string (``Keys.sim_runs``, field = the VM) that only grows:

    <run id> <source> <dest>          header (a Lua script reads it without parsing JSON)
    {RunSpec as JSON}                 fixed when the run starts
    [at, "downtime", 600]             one line per ladder event, appended atomically
    ...

Every process that polls the run replays the same lines to the same time, so two
processes agree on where it stands without writing it back (no read-modify-write race);
the first that sees it ended lands it (``balancer.fleet.store``), and only if the string
is still the one it replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from balancer.core.migration_model import MIB, Mode, first_pass_mib
from workers.executor.hypervisor import Completed, DomState, JobSample
from workers.executor.sim_run import SimRun, advance
from workers.executor.sim_vm import SimVm

EventKind = Literal["downtime", "postcopy", "suspend", "resume", "abort"]
ABORTED = "operation aborted: migration job: canceled by client"


class RunSpec(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    vm: str
    source: str
    dest: str
    mode: Mode
    started: float
    bandwidth_mib_s: float
    memory_mib: int
    nonzero_mib: float
    #: What the guest dirties while it runs (fixed at the start), MiB/s.
    dirty_mib_s: float
    working_set_mib: float
    max_downtime_ms: int
    postcopy_allowed: bool
    #: The guest's state when the run started.
    state: DomState


class RunEvent(msgspec.Struct, frozen=True, array_like=True):
    at: float
    kind: EventKind
    value: int = 0


_spec_decoder = msgspec.json.Decoder(RunSpec)
_event_decoder = msgspec.json.Decoder(RunEvent)


def encode_run(spec: RunSpec) -> str:
    return f"{spec.id} {spec.source} {spec.dest}\n{msgspec.json.encode(spec).decode()}"


def encode_event(event: RunEvent) -> str:
    return msgspec.json.encode(event).decode()


def decode_run(raw: str | bytes) -> tuple[RunSpec, tuple[RunEvent, ...]]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    _header, spec, *events = text.split("\n")
    return _spec_decoder.decode(spec), tuple(_event_decoder.decode(e) for e in events)


def run_id_of(raw: str | bytes) -> str:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return text.split(" ", 1)[0]


def pauses_guest(spec: RunSpec) -> bool:
    """A non-live move of a running guest pauses it for the copy (resumed when it lands)."""
    return spec.mode == "non-live" and spec.state == "running"


@dataclass(frozen=True)
class RunView:
    """Where a run stands at ``at``."""

    spec: RunSpec
    at: float
    #: When it finished (landed, or aborted); ``None`` while it runs.
    ended_at: float | None
    #: Why it failed (an abort); ``None`` if it landed or still runs.
    error: str | None
    #: The guest's state on its source now (on its destination once landed).
    guest: DomState
    iteration: int
    pending_mib: float
    sent_in_round_mib: float
    total_sent_mib: float
    postcopy: bool
    downtime_ms: float

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def landed(self) -> bool:
        return self.ended_at is not None and self.error is None

    def job(self) -> JobSample:
        """The job as ``jobStats()`` shows it on the source."""
        s = self.spec
        dirty = s.dirty_mib_s if self.guest == "running" and self.iteration > 0 else 0.0
        return JobSample(
            elapsed_ms=int((self.at - s.started) * 1000),
            total=int(s.memory_mib * MIB),
            processed=int(self.total_sent_mib * MIB),
            remaining=int(max(self.pending_mib - self.sent_in_round_mib, 0.0) * MIB),
            iteration=self.iteration,
            dirty_rate_pages_s=int(dirty * MIB / 4096),
            page_size=4096,
            bandwidth_bytes_s=int(s.bandwidth_mib_s * MIB),
            expected_downtime_ms=int(self.pending_mib / s.bandwidth_mib_s * 1000),
            postcopy=self.postcopy,
        )

    def completed(self) -> Completed:
        """The statistics the destination keeps of a landed run."""
        s = self.spec
        assert self.ended_at is not None
        offline = s.mode == "offline"
        first = 0.0 if offline else first_pass_mib(s.memory_mib, s.nonzero_mib)
        return Completed(
            elapsed_ms=int((self.ended_at - s.started) * 1000),
            downtime_ms=int(self.downtime_ms),
            bytes=int(self.total_sent_mib * MIB),
            memory_total=0 if offline else int(s.memory_mib * MIB),
            zero_bytes=0 if offline else int((s.memory_mib - first) * MIB),
        )


def replay(spec: RunSpec, events: tuple[RunEvent, ...], at: float) -> RunView:
    """The run at fleet time ``at``: the model advanced through each event in turn (an
    event stamped earlier than the one before counts as simultaneous with it; events
    after the run ended change nothing)."""
    offline = spec.mode == "offline"
    guest: DomState = "paused" if pauses_guest(spec) else spec.state
    vm = SimVm(
        memory_mib=spec.memory_mib,
        dirty_mib_s=spec.dirty_mib_s,
        working_set_mib=spec.working_set_mib,
        state=guest,
        resident_mib=spec.nonzero_mib,
    )
    run = SimRun(
        vm=spec.vm,
        source=spec.source,
        dest=spec.dest,
        bandwidth=spec.bandwidth_mib_s,
        max_downtime_ms=spec.max_downtime_ms,
        started=spec.started,
        offline=offline,
        last=spec.started,
        pending=0.0 if offline else first_pass_mib(spec.memory_mib, spec.nonzero_mib),
        postcopy_allowed=spec.postcopy_allowed,
        resume_after=pauses_guest(spec),
    )
    ended_at: float | None = None
    last = spec.started
    for event in events:
        when = max(event.at, last)
        if when > at:
            break
        last = when
        ended_at = advance(run, vm, when)
        if run.ended:
            break
        if _apply(run, vm, event):
            ended_at = when
            break
    if not run.ended and at > last:
        ended_at = advance(run, vm, at)
    return RunView(
        spec=spec,
        at=at,
        ended_at=ended_at if run.ended else None,
        error=run.error,
        guest=vm.state,
        iteration=run.iteration,
        pending_mib=run.pending,
        sent_in_round_mib=run.sent_in_round,
        total_sent_mib=run.total_sent,
        postcopy=run.postcopy,
        downtime_ms=run.downtime_ms,
    )


def _apply(run: SimRun, vm: SimVm, event: RunEvent) -> bool:
    """Apply ``event``; whether it ended the run (an abort)."""
    if event.kind == "downtime":
        run.max_downtime_ms = event.value
    elif event.kind == "postcopy":
        run.postcopy = run.postcopy_allowed
    elif event.kind == "suspend":
        vm.state = "paused"
    elif event.kind == "resume":
        vm.state = "running"
    elif event.kind == "abort":
        run.ended, run.error = True, ABORTED
        if run.resume_after:
            vm.state = "running"  # libvirt resumes the guest its failed migration paused
    return run.ended
