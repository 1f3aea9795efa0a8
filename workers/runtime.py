"""What a worker process needs, built once from its environment.

BALANCER_REDIS_URL        the store (and the broker)
BALANCER_HYPERVISOR       "libvirt" (default), "fleet" (the simulated fleet in Redis,
                          ``balancer fleet sim``; what ``balancer worker --hypervisor sim``
                          sets) or "sim" (a per-process simulation from BALANCER_SIM_FILE)
BALANCER_LIBVIRT_URIS     JSON {host: libvirt URI} (libvirt): how this worker reaches each host
BALANCER_MIGRATION_URIS   JSON {host: libvirt URI} (libvirt, optional): how a source host's
                          libvirtd reaches the destination (peer-to-peer); default: the
                          host's BALANCER_LIBVIRT_URIS entry, which then must not be local
                          (``qemu:///system``) when another host may migrate to it
BALANCER_SIM_FILE         JSON {"bandwidth_mib_s": .., "hosts": {host: {vm: SimVm}}} (sim)
BALANCER_SIM_LOG          (sim, optional) a file the simulated hypervisor appends each
                          action it is asked for to, as a JSON line (tests read it)
BALANCER_SLOT_WAIT_S      how long a move waits for a slot before a retry (default 30)
BALANCER_POWER_FILE       JSON {host: power driver spec}: how this worker powers each host
                          on and off (tasks name only the host; the addresses and
                          credentials stay in the worker's own configuration)
BALANCER_PREFIX           the store's key prefix (default kvmb)

``Runtime.clock`` / ``Runtime.sleep`` are the worker's time: Unix time and real sleeps,
or a simulated fleet's clock in fleet mode; the executor and the power tasks use them.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import redis

from balancer.errors import InputError, PowerRefusedError
from balancer.state.connect import DEFAULT_URL, redis_from_url
from balancer.state.keys import DEFAULT_KEYS, DEFAULT_PREFIX, Keys
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.hypervisor import Hypervisor
from workers.executor.libvirt_hv import LibvirtHypervisor
from workers.executor.machine import Executor
from workers.executor.records import RedisRecorder
from workers.executor.simulated import SimulatedHypervisor, SimVm
from workers.power.actions import PowerDeps
from workers.power.driver import PowerDriver
from workers.power.registry import build


@dataclass(frozen=True)
class Runtime:
    client: redis.Redis
    hv: Hypervisor
    executor: Executor
    #: The power driver of a host (from this worker's configuration, never a task's).
    power_driver: Callable[[str], PowerDriver]
    keys: Keys = DEFAULT_KEYS
    #: The worker's clock (seconds) and sleep: Unix time, or the fleet's in fleet mode.
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    @property
    def fence(self) -> Fence:
        return self.executor.deps.fence

    def power_deps(self) -> PowerDeps:
        return PowerDeps(self.client, self.keys, self.fence, self.clock, self.sleep)


def power_drivers_from_env() -> Callable[[str], PowerDriver]:
    """Host → driver, from ``BALANCER_POWER_FILE`` (no file: every host refuses)."""
    path = os.environ.get("BALANCER_POWER_FILE")
    specs: dict[str, dict[str, str]] = {}
    if path:
        try:
            specs = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {path}: {exc}", "BALANCER_POWER_FILE") from None

    def driver(host: str) -> PowerDriver:
        spec = specs.get(host)
        if spec is None:
            raise PowerRefusedError(f"no power driver configured for {host} on this worker")
        return build(spec)

    return driver


def hypervisor_from_env() -> Hypervisor:
    kind = os.environ.get("BALANCER_HYPERVISOR", "libvirt")
    if kind == "libvirt":
        uris = json.loads(os.environ.get("BALANCER_LIBVIRT_URIS", "{}"))
        migration_uris = json.loads(os.environ.get("BALANCER_MIGRATION_URIS", "{}"))
        return LibvirtHypervisor(uris, migration_uris)
    if kind == "sim":
        doc = json.loads(Path(os.environ["BALANCER_SIM_FILE"]).read_text())
        log = os.environ.get("BALANCER_SIM_LOG")
        sim = SimulatedHypervisor(
            clock=time.monotonic,
            default_bandwidth_mib_s=float(doc.get("bandwidth_mib_s", 100)),
            call_log=Path(log) if log else None,
        )
        for host, vms in doc["hosts"].items():
            sim.hosts.setdefault(host, {})
            for name, spec in vms.items():
                sim.add(host, name, msgspec.convert(spec, SimVm))
        return sim
    raise InputError(f"unknown hypervisor {kind!r} (libvirt or sim)", "BALANCER_HYPERVISOR")


@functools.cache
def runtime() -> Runtime:
    """The worker's runtime, built once from its environment."""
    return build_runtime(os.environ.get("BALANCER_REDIS_URL", DEFAULT_URL))


def build_runtime(redis_url: str, prefix: str | None = None) -> Runtime:
    """A runtime on ``redis_url`` (keys under ``prefix``, default ``BALANCER_PREFIX`` or
    ``kvmb``), the hypervisor from the environment (also what ``balancer migrate
    --inline`` runs its move with)."""
    client = redis_from_url(redis_url, timeout_s=10)
    keys = Keys(prefix or os.environ.get("BALANCER_PREFIX", DEFAULT_PREFIX))
    slot_wait_s = float(os.environ.get("BALANCER_SLOT_WAIT_S", "30"))
    if os.environ.get("BALANCER_HYPERVISOR") == "fleet":
        from workers.fleet_runtime import fleet_runtime  # noqa: PLC0415 - imports this module

        return fleet_runtime(client, slot_wait_s=slot_wait_s, keys=keys)
    hv = hypervisor_from_env()
    clock, sleep = time.time, time.sleep
    executor = Executor(
        hv,
        Fence(client, keys),
        Coordinator(client, keys),
        RedisRecorder(client, keys),
        clock=clock,
        sleep=sleep,
        slot_wait_s=slot_wait_s,
    )
    return Runtime(client, hv, executor, power_drivers_from_env(), keys, clock, sleep)
