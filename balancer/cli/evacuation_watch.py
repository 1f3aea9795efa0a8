"""``balancer evacuate|drain HOST... --wait``: follow evacuations until their hosts are
empty, with a progress bar per VM and one overall (rich; plain lines when not on a
terminal), then say which VMs could not leave and why.

What is read each poll (small, whatever the fleet's size): each host's latest report
(the VMs it still holds), each remaining VM's migration progress and last outcome, the
evacuations, the leader and the last cycle. The wait ends when

- every host is empty (``done``);
- an evacuation is cancelled (by someone else, or its host left maintenance);
- the daemon has run two cycles (not counting those following a plan in flight) since
  anything last changed, and no VM of the hosts is migrating: the rest cannot leave now
  (``stalled``);
- no daemon has led for ``NO_LEADER_S``, or ``--timeout`` ran out.

Why a VM stays: its last migration's failure, else what the daemon would decide now
(``balancer.daemon.dry_run``: the planner's reason, e.g. ``passthrough-device``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import redis
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from balancer.cli.text import shown
from balancer.control.intents import Evacuation
from balancer.core.plan import Unmovable
from balancer.daemon.leader import current_leader
from balancer.daemon.redis_store import last_cycle
from balancer.state.intents_store import read_intents
from balancer.state.keys import Keys
from balancer.state.migrations import MigrationRecord, decode_record
from balancer.state.report import decode_report_head
from workers.executor.records import Progress as MigrationProgress

#: Seconds without a leader after which waiting is pointless.
NO_LEADER_S = 30.0
#: Cycles (not following a plan) with no change before the rest counts as stuck.
STALL_CYCLES = 2
_progress = msgspec.json.Decoder(MigrationProgress)


@dataclass
class VmView:
    host: str
    status: str = "waiting"  # waiting | migrating | left | failed
    percent: float = 0.0
    dest: str = ""
    detail: str = ""


@dataclass
class Result:
    #: Why the wait ended: ``done``, ``cancelled``, ``stalled``, ``no-leader``, ``timeout``.
    ended: str
    #: VMs still on the hosts, with why.
    left: tuple[Unmovable, ...] = ()
    seconds: float = 0.0


@dataclass
class EvacuationWatch:
    client: redis.Redis
    keys: Keys
    evacuations: list[Evacuation]
    #: Records of migrations that started before this (the daemon's clock) are old.
    since: float
    timeout_s: float | None = None
    clock: Callable[[], float] = time.monotonic
    vms: dict[str, VmView] = field(default_factory=dict)
    _started: float = 0.0
    _changed: float = 0.0
    _cycles: set[float] = field(default_factory=set)
    _leaderless_since: float | None = None
    _failed: dict[str, MigrationRecord] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._started = self._changed = self.clock()
        for e in self.evacuations:
            for vm in self._on(e.host):
                self.vms[vm] = VmView(host=e.host)

    def _on(self, host: str) -> list[str]:
        raw = self.client.get(self.keys.report(host))
        if raw is None:
            return []
        try:
            return [v.name for v in decode_report_head(raw).vms]  # type: ignore[arg-type]
        except msgspec.DecodeError:
            return []

    def poll(self) -> Result | None:
        """Read the store once; a ``Result`` when the wait is over."""
        now = self.clock()
        before = {n: (v.status, round(v.percent)) for n, v in self.vms.items()}
        still = {h: set(self._on(h)) for h in {e.host for e in self.evacuations}}
        names = [n for n, v in self.vms.items() if v.status != "left"]
        with self.client.pipeline(transaction=False) as pipe:
            for n in names:
                pipe.get(self.keys.progress(n))
                pipe.get(self.keys.outcome(n))
            replies = pipe.execute()
        for i, name in enumerate(names):
            self._update(name, replies[2 * i], replies[2 * i + 1], still[self.vms[name].host])
        if {n: (v.status, round(v.percent)) for n, v in self.vms.items()} != before:
            self._changed, self._cycles = now, set()
        migrating = any(v.status == "migrating" for v in self.vms.values())
        if all(v.status == "left" for v in self.vms.values()):
            return self._result("done")
        stored = {e.id: e for e in read_intents(self.client, self.keys).intents.evacuations}
        if any(stored.get(e.id, e).state == "cancelled" for e in self.evacuations):
            return self._result("cancelled")
        cycle = last_cycle(self.client, self.keys)
        if cycle is not None and cycle.outcome != "following" and cycle.at not in self._cycles:
            self._cycles.add(cycle.at)
        if len(self._cycles) > STALL_CYCLES and not migrating:  # the first may predate us
            return self._result("stalled")
        if current_leader(self.client, self.keys) is None:
            self._leaderless_since = self._leaderless_since or now
            if now - self._leaderless_since > NO_LEADER_S:
                return self._result("no-leader")
        else:
            self._leaderless_since = None
        if self.timeout_s is not None and now - self._started > self.timeout_s:
            return self._result("timeout")
        return None

    def _update(
        self, name: str, raw_progress: bytes | None, raw_outcome: bytes | None, on_host: set[str]
    ) -> None:
        view = self.vms[name]
        record = None if raw_outcome is None else _record(raw_outcome)
        fresh = record is not None and record.started_at >= self.since
        if name not in on_host or (
            fresh
            and record is not None
            and record.result == "completed"
            and record.source == view.host
        ):
            view.status, view.percent = "left", 100.0
            if record is not None and fresh:
                view.dest = record.dest
            return
        if raw_progress is not None:
            try:
                p = _progress.decode(raw_progress)
            except msgspec.DecodeError:
                return
            view.status, view.percent, view.dest = "migrating", p.percent, p.dest
            view.detail = f"{p.remaining_bytes / 2**20:.0f} MiB left, iteration {p.iteration}"
            return
        if fresh and record is not None and record.result == "failed":
            self._failed[name] = record
            view.status, view.percent, view.detail = "failed", 0.0, record.detail
        elif view.status == "migrating":
            view.status = "waiting"

    def _result(self, ended: str) -> Result:
        seconds = self.clock() - self._started
        left = [n for n, v in self.vms.items() if v.status != "left"]
        if not left:
            return Result(ended, (), seconds)
        return Result(ended, self._reasons(left), seconds)

    def _reasons(self, left: list[str]) -> tuple[Unmovable, ...]:
        from balancer.daemon.dry_run import dry_run  # noqa: PLC0415

        planned: dict[str, Unmovable] = {}
        try:
            run = dry_run(self.client, self.keys)
            planned = {u.vm: u for u in run.left_behind()}
            moving = {m.vm: m for m in run.decision.plan.moves}
        except (redis.RedisError, ValueError) as exc:  # the reasons are a courtesy
            moving = {}
            planned = {}
            why_not = f"(the daemon's view could not be read: {exc})"
        else:
            why_not = "the daemon plans no move of it now"
        out: list[Unmovable] = []
        for name in left:
            host = self.vms[name].host
            if name in self._failed:
                r = self._failed[name]
                out.append(
                    Unmovable(
                        vm=name,
                        host=host,
                        reason="migration-failed",
                        detail=f"to {r.dest}: {r.detail}",
                    )
                )
            elif name in planned:
                out.append(planned[name])
            elif name in moving:
                out.append(
                    Unmovable(
                        vm=name,
                        host=host,
                        reason="not-yet",
                        detail=f"the daemon would move it to {moving[name].to} next",
                    )
                )
            else:
                out.append(Unmovable(vm=name, host=host, reason="not-planned", detail=why_not))
        return tuple(out)


def _record(raw: bytes) -> MigrationRecord | None:
    try:
        return decode_record(raw)
    except msgspec.DecodeError:
        return None


def follow_evacuations(watch: EvacuationWatch, console: Console, poll_s: float = 0.5) -> Result:
    """Poll ``watch`` until it is over, showing its progress on ``console``."""
    if console.is_terminal:
        return _bars(watch, console, poll_s)
    return _lines(watch, console, poll_s)


def _describe(name: str, v: VmView) -> str:
    arrow = f"{shown(v.host)}→{shown(v.dest)}" if v.dest else shown(v.host)
    text = {
        "waiting": "waiting",
        "migrating": f"migrating {v.percent:.0f}%",
        "left": "left",
        "failed": f"failed: {shown(v.detail)}",
    }[v.status]
    return f"{shown(name)} {arrow} {text}"


def _overall(watch: EvacuationWatch) -> str:
    hosts = ", ".join(shown(e.host) for e in watch.evacuations)
    left = sum(1 for v in watch.vms.values() if v.status != "left")
    return f"evacuate {hosts}: {left} of {len(watch.vms)} VM(s) left"


def _bars(watch: EvacuationWatch, console: Console, poll_s: float) -> Result:
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=console, transient=False) as bars:
        total = bars.add_task(_overall(watch), total=max(1, len(watch.vms)))
        tasks: dict[str, TaskID] = {
            n: bars.add_task(_describe(n, v), total=100.0) for n, v in watch.vms.items()
        }
        while True:
            result = watch.poll()
            for n, v in watch.vms.items():
                bars.update(tasks[n], completed=v.percent, description=_describe(n, v))
            done = sum(1 for v in watch.vms.values() if v.status == "left")
            bars.update(total, completed=done, description=_overall(watch))
            if result is not None:
                return result
            time.sleep(poll_s)


def _lines(watch: EvacuationWatch, console: Console, poll_s: float) -> Result:
    console.print(_overall(watch), highlight=False, markup=False, soft_wrap=True)
    shown_last: dict[str, str] = {}
    while True:
        result = watch.poll()
        for n, v in watch.vms.items():
            line = _describe(n, v)
            if v.status == "migrating":
                step = v.percent // 25 * 25
                line = f"{shown(n)} {shown(v.host)}→{shown(v.dest)} migrating {step:.0f}%+"
            if shown_last.get(n) != line:
                shown_last[n] = line
                console.print(line, highlight=False, markup=False, soft_wrap=True)
        if result is not None:
            console.print(_overall(watch), highlight=False, markup=False, soft_wrap=True)
            return result
        time.sleep(poll_s)
