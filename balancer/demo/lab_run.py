"""``balancer lab demo`` / ``make lab-demo``: what ``balancer demo`` shows, on the lab's
real libvirt hosts and QEMU guests, at real speed (``lab_system.py`` starts and stops
everything).

The run plays a short day (``LAB_PHASES``): at night the guests idle and the daemon
packs them onto few hosts and powers the others off (their libvirtd stops); an operator
evacuates the busiest host (``balancer evacuate``, as a person would type it); in the
morning the guests burn CPU on command and the daemon powers hosts on and spreads them.
The summary is ``balancer demo``'s: moves by reason and mode, fallbacks, power actions
(from the executor's records), the evacuation (real seconds), VMs lost or duplicated
(each guest must run on exactly one host, asked of every host's libvirtd) and the energy.

Energy: the lab's hosts have no power meter and share one machine, so each host's
agent declares a reference server's draw (``lab_system.POWER_W``: 100 W idle to 250 W at
full CPU, linear; what the daemon prices drains by too) and the estimate takes it at the
CPU use the agent reports, nothing while off; the baseline is the same hosts all on with
the same load spread evenly (``balancer.demo.energy``).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import libvirt
import msgspec
from rich.console import Console

from balancer.core.models import Snapshot
from balancer.demo.energy import draw_w, energy_kwh
from balancer.demo.lab_system import LabDemoOptions, LabSystem
from balancer.demo.scenario import Phase, load_at, phase_at
from balancer.demo.steps import play_live, run_cli
from balancer.demo.summary import Summary, moves_and_power
from balancer.demo.tracking import EvacuationWatch, FrameText, store_frame, summary_of
from balancer.demo.view import Frame
from balancer.lab.errors import LabError
from balancer.lab.guest_load import cpu_levels, send_commands
from balancer.launch.processes import Processes
from balancer.state.snapshot_read import snapshot_from_redis

#: Real seconds kept for starting (lab, guests, agents, workers, daemons) and stopping.
STARTUP_S, TEARDOWN_S = 45.0, 15.0
FRAME_S = 0.5
#: Seconds between two checks that every guest burns what it was told (a command sent
#: while it migrated may be lost; the guest confirms each on its console).
REASSERT_S = 5.0

#: The load is the share of ``burn`` the guests are told to burn (0 to 1).
LAB_PHASES = (
    Phase("night", 0.0, 0.0, 0.0,
          "night: the guests idle; the daemon packs them and powers idle hosts off "
          "(their libvirtd stops)"),
    Phase("maintenance", 0.4, 0.0, 0.0,
          "an operator evacuates a host for maintenance (balancer evacuate)"),
    Phase("morning", 0.6, 0.0, 1.0,
          "morning: the guests burn CPU; the daemon powers hosts on (libvirtd starts) "
          "and spreads the load"),
    Phase("day", 0.75, 1.0, 1.0, "day: the load holds; the hosts share it"),
)  # fmt: skip


def play_seconds(options: LabDemoOptions) -> float:
    return max(40.0, options.minutes * 60 - STARTUP_S - TEARDOWN_S)


class GuestLoad:
    """Tells the guests how much CPU to burn, in a thread (each command holds its port
    open a moment), and tells again those that have not confirmed the level."""

    def __init__(self, system: LabSystem) -> None:
        self.system = system
        self.target = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="guest-load", daemon=True)
        self.errors: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        last_check = 0.0
        while not self._stop.wait(0.25):
            behind = [g for g in self.system.guests if _level(g.console_log) != self.target]
            if behind and time.monotonic() - last_check >= REASSERT_S:
                last_check = time.monotonic()
                try:
                    self._send([g.name for g in behind], self.target)
                except (LabError, libvirt.libvirtError) as exc:  # a host going off: next round
                    self.errors.append(str(exc))

    def _send(self, names: list[str], percent: int) -> None:
        lab = self.system.fresh_lab()
        try:
            found = [lab.find_guest(n) for n in names]
            send_commands([(f[1], f"cpu {percent}") for f in found if f and f[1].isActive()])
        finally:
            lab.close()


def _level(console: Path) -> int:
    levels = cpu_levels(console)
    return levels[-1] if levels else 0


class LabRun:
    def __init__(self, system: LabSystem) -> None:
        self.system = system
        self.options = system.options
        self.play_s = play_seconds(system.options)
        self.samples: list[tuple[float, float, float]] = []
        self.evacuation = EvacuationWatch()
        self.load = GuestLoad(system)

    def play(self, show: Callable[[Frame], None]) -> None:
        client = self.system.client
        assert client is not None
        self.load.start()
        try:
            began = time.monotonic()
            while (elapsed := time.monotonic() - began) < self.play_s:
                fraction = elapsed / self.play_s
                share = load_at(fraction, LAB_PHASES)
                self.load.target = round(share * self.options.burn / 10) * 10
                now = time.time()
                snapshot = snapshot_from_redis(client, keys=self.system.keys, now=now)
                w, baseline = draw_w(snapshot)
                self.samples.append((now, w, baseline))
                if phase_at(fraction, LAB_PHASES).name == "maintenance":
                    self._evacuate(snapshot, now)
                self.evacuation.follow(snapshot, now)
                show(self._frame(snapshot, fraction, elapsed))
                time.sleep(FRAME_S)
        finally:
            self.load.stop()

    def _evacuate(self, snapshot: Snapshot, now: float) -> None:
        """As an operator would, once: the busiest active host goes to maintenance."""
        if not self.evacuation.host and (host := self.evacuation.begin(snapshot, now)):
            run_cli(self.system.url, "evacuate", host, "--reason", "lab demo: firmware update")

    def _frame(self, snapshot: Snapshot, fraction: float, elapsed: float) -> Frame:
        client, keys = self.system.client, self.system.keys
        assert client is not None
        kwh, base = energy_kwh(self.samples)
        text = FrameText(
            clock=f"{time.strftime('%H:%M:%S')}  ({elapsed:.0f} of {self.play_s:.0f} s, real)",
            phase=f"{phase_at(fraction, LAB_PHASES).say}   [guests burn {self.load.target} % CPU]",
            load=load_at(fraction, LAB_PHASES),
            energy=f"energy {kwh * 1000:.1f} Wh (all hosts on: {base * 1000:.1f} Wh, estimated)"
            f"   metrics: http://127.0.0.1:{self.system.metrics_port}/metrics",
        )
        evacuation = self.evacuation.line(snapshot, lambda s: f"{s:.0f} s")
        counts = moves_and_power(client, keys)
        return store_frame(client, keys, snapshot, counts, evacuation, text)

    def summary(self, seconds: float) -> Summary:
        client, keys = self.system.client, self.system.keys
        assert client is not None
        kwh, base = energy_kwh(self.samples)
        snapshot = snapshot_from_redis(client, keys=keys)
        return summary_of(
            moves_and_power(client, keys),
            self.placement(),
            (round(kwh, 6), round(base, 6)),
            self.evacuation.summary(snapshot),
            hosts=len(snapshot.hosts),
            vms=self.options.guests,
            fleet_hours=round(self.play_s / 3600, 4),
            seconds=round(seconds, 1),
        )

    def placement(self) -> tuple[int, int]:
        """Guests running on no host, and on more than one, as the hosts' libvirtd say."""
        lab = self.system.fresh_lab()
        try:
            running: dict[str, int] = {g.name: 0 for g in self.system.guests}
            for record in lab.state().hosts:
                if record.daemon.is_running():
                    for dom in lab.conn(record.name).listAllDomains(0):
                        if dom.name() in running and dom.isActive():
                            running[dom.name()] += 1
        finally:
            lab.close()
        return sum(n == 0 for n in running.values()), sum(n > 1 for n in running.values())


def run_lab_demo(options: LabDemoOptions, console: Console | None) -> Summary:
    """Play the lab demo; ``console``: where the live view goes (``None``: no view)."""
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kvmb-lab-demo-") as tmp:
        procs = Processes(Path(tmp))
        system = LabSystem(options, procs)
        try:
            system.start()
            run = LabRun(system)
            play_live(console, run.play, 2)
            # The daemons and workers first (nothing moves any more), then what they did.
            procs.stop_all(keep=("redis",))
            summary = run.summary(time.monotonic() - began)
            system.stop()
            return msgspec.structs.replace(
                summary,
                seconds=round(time.monotonic() - began, 1),
                pids=tuple(p.pid for p in procs.started)
                + tuple(p.pid for _label, p in system.lab_processes),
                processes_left=tuple(procs.leftover()) + tuple(system.lab_left),
            )
        finally:
            system.stop()  # (after a failure or Ctrl-C; nothing to do after a normal end)
