"""Start the whole system on the lab's real libvirt hosts, and stop it all again.

A private redis-server; a lab of a few libvirt hosts (``balancer.lab``: each a libvirtd
in its own mount namespace) with small QEMU guests spread over them, each able to burn
CPU on command (``balancer.lab.guest_load``); an agent per host reporting its guests' CPU
as the host's (``--usage-from-vms``: the hosts share this machine); two Celery workers
on the real libvirt executor that power lab hosts with the lab's driver (off: the host's
libvirtd stops; on: it starts again, ``balancer.lab.power``); two daemons (one leads) and
the exporter. Everything is stopped by ``stop``, by PID: the processes, then the lab
(its watchdog stops it should this process die first).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

import redis

from balancer.daemon.leader import current_leader
from balancer.demo.steps import run_cli, wait_ready
from balancer.errors import InputError
from balancer.lab import watchdog
from balancer.lab.guests import Guest
from balancer.lab.lab import Lab
from balancer.lab.paths import labs_root
from balancer.lab.power import power_file
from balancer.lab.procs import ProcessId
from balancer.lab.requirements import require_lab
from balancer.lab.specs import GuestSpec, default_host_specs
from balancer.lab.stale import reap_stale_labs
from balancer.lab.teardown import host_processes
from balancer.launch.processes import ManagedProcess, Processes, balancer_argv
from balancer.launch.redis_server import free_port, start_redis
from balancer.state.connect import redis_from_url
from balancer.state.keys import Keys
from balancer.state.snapshot_read import snapshot_from_redis

#: Seconds between two reports of an agent, and between two cycles of the daemon.
REPORT_S, CYCLE_S = 2.0, 2.0
#: Watts each lab host declares (``balancer agent --power-w``), idle and at full CPU: a
#: reference server's, since the lab's hosts share one machine and have no meter.
POWER_W = "100:250"
BOOT_TIMEOUT_S = 180.0
#: The control loop at the lab's scale and speed. The lab's hosts each report this
#: machine's cores, so the lines are low: a host is full at half its cores' worth of
#: guest CPU (``relieve_above``), packed to 30 % (``pack_to``).
SETTINGS = {
    "sample_every_s": CYCLE_S, "forecast": "last", "forecast_window_s": 2 * CYCLE_S,
    "relieve_above": 0.5, "relieve_to": 0.35, "relief_cooldown_s": 5.0,
    "balance_above": 0.15, "power_on_above": 0.4, "pack_to": 0.3,
    "min_on_s": 10.0, "min_off_s": 10.0, "power_cycles_per_day": 50, "boot_s": 60.0,
    "consolidate_every_s": 10.0, "retry_failed_after_s": 20.0,
}  # fmt: skip
#: No headroom (the lines above are the margin); a VM that moved stays 15 s.
POLICY = {"headroom": 0.0, "cooldown_s": 15.0}


@dataclass(frozen=True)
class LabDemoOptions:
    hosts: int = 3
    guests: int = 6
    minutes: float = 4.0
    #: Share of its vCPU (%) each guest burns in the day.
    burn: int = 30

    def __post_init__(self) -> None:
        if not 2 <= self.hosts <= 6:
            raise InputError("must be between 2 and 6", "hosts")
        if not self.hosts <= self.guests <= 12:
            raise InputError(f"must be between the hosts ({self.hosts}) and 12", "guests")
        if not 0 <= self.burn <= 100:
            raise InputError("must be between 0 and 100", "burn")


class LabSystem:
    def __init__(self, options: LabDemoOptions, procs: Processes) -> None:
        self.options, self.procs = options, procs
        self.keys = Keys()
        self.url = ""
        self.client: redis.Redis | None = None
        self.root = labs_root() / f"demo-{os.getpid()}"
        self.guests: list[Guest] = []
        self.metrics_port = 0
        self._watchdog: subprocess.Popen[bytes] | None = None
        #: The lab's processes (libvirtd, QEMU) seen last, and those left after ``stop``.
        self.lab_processes: list[tuple[str, ProcessId]] = []
        self.lab_left: list[str] = []

    @property
    def host_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in default_host_specs(self.options.hosts))

    def fresh_lab(self) -> Lab:
        """A ``Lab`` with no cached connection (a host's libvirtd may have restarted)."""
        return Lab(self.root)

    # -- start -------------------------------------------------------------------------
    def start(self) -> None:
        require_lab()
        reap_stale_labs()
        _server, self.url = start_redis(self.procs)
        self.client = redis_from_url(self.url, timeout_s=10)
        self.root.mkdir(parents=True, exist_ok=True)
        self._watchdog = watchdog.start(self.root)
        lab = self.fresh_lab()
        try:
            lab.up(default_host_specs(self.options.hosts), owner=ProcessId.of(os.getpid()))
            self._start_guests(lab)
        finally:
            lab.close()
        policy = self.procs.dir / "policy.json"
        policy.write_text(json.dumps(POLICY))
        run_cli(self.url, "policy", "set", str(policy))
        self._start_agents(lab)
        self._start_workers(lab)
        for i in (1, 2):
            self.procs.start(f"daemon-{i}", balancer_argv(
                "-v", "daemon", "--redis", self.url, "--interval", str(CYCLE_S),
                "--id", f"daemon-{i}", "--settings", json.dumps(SETTINGS),
                "--metrics-port", str(free_port()), "--metrics-address", "127.0.0.1",
            ))  # fmt: skip
        self.metrics_port = free_port()
        self.procs.start("exporter", balancer_argv(
            "exporter", "--redis", self.url, "--port", str(self.metrics_port),
            "--address", "127.0.0.1", "--refresh-s", "1",
        ))  # fmt: skip
        client = self.client
        wait_ready(self.procs, "a leader", lambda: current_leader(client, self.keys) is not None)

    def _start_guests(self, lab: Lab) -> None:
        """Every guest defined round-robin over the hosts, all booted at once."""
        hosts = self.host_names
        for i in range(self.options.guests):
            spec = GuestSpec(f"vm-{i + 1}", memory_mib=128, working_set_mib=16, commands=True)
            self.guests.append(lab.add_guest(hosts[i % len(hosts)], spec, start=False))
        for i, guest in enumerate(self.guests):
            lab.conn(hosts[i % len(hosts)]).lookupByName(guest.name).create()
        for guest in self.guests:
            guest.wait_for_counter(0, BOOT_TIMEOUT_S)

    def _start_agents(self, lab: Lab) -> None:
        for host in self.host_names:
            self.procs.start(f"agent-{host}", balancer_argv(
                "agent", "--libvirt-uri", lab.host(host).uri, "--redis", self.url,
                "--host-name", host, "--virt-type", "qemu", "--interval", str(REPORT_S),
                "--ttl", str(5 * REPORT_S), "--shared-pool", "shared", "--usage-from-vms",
                "--power-w", POWER_W,
            ))  # fmt: skip
        client, names = self.client, {g.name for g in self.guests}
        assert client is not None

        def reporting() -> bool:
            snap = snapshot_from_redis(client, keys=self.keys)
            active = {h.name for h in snap.hosts if h.state == "active"}
            running = {v.name for v in snap.vms if v.state == "running"}
            return active == set(self.host_names) and names <= running

        wait_ready(self.procs, "the agents to report every host and guest", reporting)

    def _start_workers(self, lab: Lab) -> None:
        uris = {h: lab.host(h).uri for h in self.host_names}
        power = self.procs.dir / "power.json"
        power.write_text(json.dumps(power_file(self.root, self.host_names)))
        env = {
            "BALANCER_HYPERVISOR": "libvirt",
            "BALANCER_LIBVIRT_URIS": json.dumps(uris),
            "BALANCER_POWER_FILE": str(power),
        }
        workers = [self._worker(i, env) for i in (1, 2)]
        wait_ready(self.procs, "the workers",
                   lambda: all("ready." in w.log_text() for w in workers))  # fmt: skip

    def _worker(self, i: int, env: dict[str, str]) -> ManagedProcess:
        argv = balancer_argv(
            "worker", "--redis", self.url, "--hypervisor", "libvirt", "--concurrency", "2",
            "--name", f"labdemo{i}@%h", "--", "--loglevel", "INFO", "--without-gossip",
            "--without-mingle", "--without-heartbeat",
        )  # fmt: skip
        return self.procs.start(f"worker-{i}", argv, env)

    # -- stop --------------------------------------------------------------------------
    def stop(self) -> None:
        """Every process, then the lab; safe to call twice."""
        self.procs.stop_all()
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._watchdog is not None:
            try:
                self._down()
            finally:
                watchdog.stop(self._watchdog)
                self._watchdog = None

    def _down(self) -> None:
        lab = self.fresh_lab()
        self.lab_processes = [
            (f"{p.name()} of {record.name} (pid {p.pid})", p)
            for record in lab.state().hosts
            for p in host_processes(record)
        ]
        if self.root.exists():
            lab.down()
        self.lab_left = [label for label, p in self.lab_processes if p.is_running()]
