"""Start the whole system on this machine, play the demo's day, show it, stop it all.

A private redis-server on a free loopback port (its own directory, no persistence), the
simulated fleet (`balancer fleet sim`: 16 hosts, 200 VMs following a PlanetLab day,
time compressed so the day fits the run), two Celery workers on its simulated hypervisor
(`balancer worker --hypervisor sim`), two daemons (`balancer daemon --clock fleet`: one
leads) and the exporter (`balancer exporter`, /metrics on a free loopback port). The
operator's step is the CLI a person would type (`balancer evacuate`). Every process is
stopped on the way out, also on Ctrl-C.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import redis
from rich.console import Console

from balancer.core.models import Snapshot
from balancer.daemon.leader import current_leader
from balancer.demo.energy import draw_w, energy_kwh
from balancer.demo.scenario import EVACUATION, load_at, phase_at
from balancer.demo.steps import play_live, run_cli, wait_ready
from balancer.demo.summary import Summary, moves_and_power, placement_counts
from balancer.demo.tracking import EvacuationWatch, FrameText, store_frame, summary_of
from balancer.demo.view import Frame
from balancer.fleet.clock import FleetClock
from balancer.launch.processes import ManagedProcess, Processes, balancer_argv
from balancer.launch.redis_server import free_port, start_redis
from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from balancer.state.snapshot_read import snapshot_from_redis

#: Real seconds kept for starting and for stopping, out of the run's minutes.
STARTUP_S, TEARDOWN_S = 20.0, 10.0
#: Seconds between two frames of the live view (and energy samples).
FRAME_S = 0.25
#: The fleet's report interval, heartbeat and the daemon's cycle, in fleet seconds.
REPORT_S, HEARTBEAT_S, CYCLE_S = 300, 1800, 300
#: The fleet's hosts have four times the reference's memory per core (as hosts bought
#: this decade do): packing is bound by memory at night and by CPU in the day.
MEMORY_SCALE = 4
SETTINGS = {"sample_every_s": 300}


@dataclass(frozen=True)
class DemoOptions:
    hosts: int = 16
    vms: int = 200
    seed: int = 0
    minutes: float = 3.0

    @property
    def day_s(self) -> float:
        """Real seconds the day is played in."""
        return max(20.0, self.minutes * 60 - STARTUP_S - TEARDOWN_S)

    @property
    def fleet_hours(self) -> float:
        """Simulated hours the run covers: a day, or less for a short run."""
        return min(24.0, self.minutes * 8)

    @property
    def speed(self) -> float:
        return self.fleet_hours * 3600 / self.day_s


class Run:
    def __init__(self, options: DemoOptions, procs: Processes) -> None:
        self.options, self.procs = options, procs
        self.keys = Keys()
        self.url = ""
        self.client: redis.Redis | None = None
        self.samples: list[tuple[float, float, float]] = []
        self.evacuation = EvacuationWatch()
        self.metrics_port = 0

    # -- start -------------------------------------------------------------------------
    def start(self) -> None:
        o = self.options
        _server, self.url = start_redis(self.procs)
        self.client = client = redis_from_url(self.url, timeout_s=10)
        client.set(self.keys.sim_load_scale, repr(load_at(0.0)))
        self.procs.start("fleet", balancer_argv(
            "fleet", "sim", "--redis", self.url, "--hosts", str(o.hosts), "--vms", str(o.vms),
            "--seed", str(o.seed), "--placement", "spread", "--speed", f"{o.speed:.3f}",
            "--interval", str(REPORT_S), "--ttl", str(HEARTBEAT_S), "--boot-s", "120",
            "--hot-vms", str(max(1, o.vms // 60)), "--memory-scale", str(MEMORY_SCALE),
        ))  # fmt: skip
        wait_ready(self.procs, "the fleet's hosts to report",
                   lambda: client.scard(self.keys.hosts) >= o.hosts)  # fmt: skip
        workers = [self._worker(i) for i in (1, 2)]
        wait_ready(self.procs, "the workers",
                   lambda: all("ready." in w.log_text() for w in workers))  # fmt: skip
        for i in (1, 2):
            self.procs.start(f"daemon-{i}", balancer_argv(
                "-v", "daemon", "--redis", self.url, "--clock", "fleet", "--interval",
                str(CYCLE_S), "--id", f"daemon-{i}", "--settings", json.dumps(SETTINGS),
                "--metrics-port", str(free_port()), "--metrics-address", "127.0.0.1",
            ))  # fmt: skip
        self.metrics_port = free_port()
        self.procs.start("exporter", balancer_argv(
            "exporter", "--redis", self.url, "--clock", "fleet", "--port",
            str(self.metrics_port), "--address", "127.0.0.1", "--refresh-s", "1",
        ))  # fmt: skip
        wait_ready(self.procs, "a leader", lambda: current_leader(client, self.keys) is not None)

    def _worker(self, i: int) -> ManagedProcess:
        argv = balancer_argv(
            "worker", "--redis", self.url, "--hypervisor", "sim", "--concurrency", "4",
            "--name", f"demo{i}@%h", "--", "--loglevel", "INFO", "--without-gossip",
            "--without-mingle", "--without-heartbeat",
        )  # fmt: skip
        return self.procs.start(f"worker-{i}", argv)

    # -- play --------------------------------------------------------------------------
    def play(self, show: Callable[[Frame], None]) -> None:
        assert self.client is not None
        client, keys = self.client, self.keys
        clock = FleetClock.from_redis(client, keys)
        began = time.monotonic()
        while (elapsed := time.monotonic() - began) < self.options.day_s:
            fraction = elapsed / self.options.day_s
            client.set(keys.sim_load_scale, repr(round(load_at(fraction), 3)))
            now = clock.now()
            snapshot = snapshot_from_redis(client, keys=keys, now=now)
            w, baseline = draw_w(snapshot)
            self.samples.append((now, w, baseline))
            if fraction >= EVACUATION.start and not self.evacuation.host:
                self._evacuate(snapshot, now)
            self.evacuation.follow(snapshot, now)
            show(self._frame(snapshot, fraction, now))
            time.sleep(FRAME_S)

    def _evacuate(self, snapshot: Snapshot, now: float) -> None:
        """As an operator would: the busiest active host goes to maintenance."""
        host = self.evacuation.begin(snapshot, now)
        if host is not None:
            run_cli(self.url, "evacuate", host, "--reason", "demo: firmware update")

    def _frame(self, snapshot: Snapshot, fraction: float, now: float) -> Frame:
        assert self.client is not None
        kwh, base = energy_kwh(self.samples)
        text = FrameText(
            clock=_day_clock(now - self.samples[0][0], self.options.fleet_hours),
            phase=phase_at(fraction).say,
            load=load_at(fraction),
            energy=f"energy {kwh:.1f} kWh (all hosts on: {base:.1f} kWh)   "
            f"metrics: http://127.0.0.1:{self.metrics_port}/metrics",
        )
        evacuation = self.evacuation.line(snapshot, lambda s: f"{s / 60:.0f} min (simulated)")
        counts = moves_and_power(self.client, self.keys)
        return store_frame(self.client, self.keys, snapshot, counts, evacuation, text)

    # -- end ---------------------------------------------------------------------------
    def summary(self, seconds: float) -> Summary:
        assert self.client is not None
        client, keys = self.client, self.keys
        kwh, base = energy_kwh(self.samples)
        snapshot = snapshot_from_redis(client, keys=keys, now=self.samples[-1][0])
        return summary_of(
            moves_and_power(client, keys),
            placement_counts(client, keys),
            (round(kwh, 3), round(base, 3)),
            self.evacuation.summary(snapshot),
            hosts=len(snapshot.hosts),
            vms=self.options.vms,
            fleet_hours=round((self.samples[-1][0] - self.samples[0][0]) / 3600, 2),
            seconds=round(seconds, 1),
        )


def _day_clock(elapsed_s: float, hours: float) -> str:
    """The simulated time of day: the run starts at 22:00 (night)."""
    minutes = int((22 * 60 + elapsed_s / 60) % (24 * 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}  ({elapsed_s / 3600:.1f} of {hours:.0f} h)"


def run_demo(options: DemoOptions, console: Console | None) -> Summary:
    """Play the demo; ``console``: where the live view goes (``None``: no view)."""
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kvmb-demo-") as tmp:
        procs = Processes(Path(tmp))
        run = Run(options, procs)
        try:
            run.start()
            play_live(console, run.play, 4)
            # The daemons and workers first (nothing moves any more), then what they did,
            # then the store.
            procs.stop_all(keep=("redis",))
            summary = run.summary(time.monotonic() - began)
            procs.stop_all()
            return msgspec.structs.replace(
                summary,
                pids=tuple(p.pid for p in procs.started),
                processes_left=tuple(procs.leftover()),
            )
        finally:
            if run.client is not None:
                run.client.close()
            procs.stop_all()
