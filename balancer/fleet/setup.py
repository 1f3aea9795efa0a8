"""Starting a fleet: a new one (facts built, VMs placed, everything stored, then the clock
anchored), or the one the store already holds (resumed where its state stands; its clock
kept running while no fleet process did, as time does for real hosts).

Resuming needs the same world: hosts, VMs, seed, trace, speed and the simulated facts
must match the stored fleet's (``InputError`` names the first option that differs);
``reset`` forgets the stored fleet and its hosts' reports first. The publishing options
(interval, heartbeat, history length) are the new process's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import numpy as np
import numpy.typing as npt

from balancer.core.models import Host
from balancer.errors import InputError, TraceError
from balancer.fleet.clock import anchor_clock, read_anchor
from balancer.fleet.config import FleetConfig, FleetInfo
from balancer.fleet.facts import VmFacts, auto_scale, build_hosts, build_vms
from balancer.fleet.load import cores_at
from balancer.fleet.model import FleetModel
from balancer.fleet.placement import initial_placement
from balancer.fleet.power import PowerState
from balancer.fleet.store import FleetStore
from balancer.state.publish import ensure_schema
from balancer.state.replies import hash_reply
from balancer.traces.load import load_trace
from balancer.traces.paths import shared_data_dir
from balancer.traces.trace import Trace

log = logging.getLogger(__name__)

#: The trace a fleet follows unless told otherwise: the reference's first PlanetLab day.
DEFAULT_DAY = "20110303"
#: Options that describe the simulated world (a resumed fleet keeps them), by CLI name.
WORLD_OPTIONS = {
    "hosts": "--hosts", "vms": "--vms", "seed": "--seed", "trace": "--trace",
    "speed": "--speed", "boot_s": "--boot-s", "dirty_per_core_mib_s": "--dirty-per-core",
    "bandwidth_mib_s": "--bandwidth", "hot_vms": "--hot-vms", "hot_factor": "--hot-factor",
    "host_scale": "--host-scale", "memory_scale": "--memory-scale", "placement": "--placement",
    "empty_hosts_on": "--empty-hosts",
}  # fmt: skip


def default_trace() -> str:
    return str(shared_data_dir() / "planetlab" / DEFAULT_DAY)


def start_fleet(store: FleetStore, config: FleetConfig, *, reset: bool = False) -> FleetModel:
    """The fleet to run: the stored one resumed, or a new one (``reset``: always new)."""
    ensure_schema(store.client, store.keys)
    stored = store.client.get(store.keys.sim_config)
    if reset or stored is None or read_anchor(store.client, store.keys) is None:
        forgotten = store.forget_fleet()
        if forgotten:
            log.info("forgot the previous fleet (%d hosts)", forgotten)
        return create_fleet(store, config)
    return resume_fleet(store, config)


def create_fleet(store: FleetStore, config: FleetConfig) -> FleetModel:
    trace = _trace(config)
    pct = np.ascontiguousarray(trace.cpu_pct, dtype=np.float32)
    info = FleetInfo(
        config=config,
        host_scale=auto_scale(config),
        trace_kind=trace.kind,
        trace_rows=int(pct.shape[0]),
        trace_steps=int(pct.shape[1]),
        trace_step_s=trace.step_s,
        trace_t0=config.start,
    )
    hosts = build_hosts(config, info.host_scale)
    vms = build_vms(config, info.trace_rows, info.trace_steps)
    where = _place(config, info, pct, hosts, vms)
    placement = {v.name: hosts[where[j]].name for j, v in enumerate(vms)}
    used = set(placement.values())
    power = {
        h.name: PowerState(
            state="on" if config.empty_hosts_on or h.name in used else "off", since=config.start
        )
        for h in hosts
    }
    store.write_fleet(info, pct, hosts, vms, placement, power)
    anchor_clock(store.client, store.keys, start=config.start, speed=config.speed)
    log.info("new fleet: %d hosts (x%d reference hosts each), %d VMs on %d of them, trace %s",
             len(hosts), info.host_scale, len(vms), len(used), config.trace)  # fmt: skip
    return FleetModel.build(info, pct, hosts, vms, placement)


def resume_fleet(store: FleetStore, config: FleetConfig) -> FleetModel:
    raw = store.client.get(store.keys.sim_config)
    assert raw is not None
    stored = msgspec.json.decode(raw, type=FleetInfo)
    for field, option in WORLD_OPTIONS.items():
        want, have = getattr(config, field), getattr(stored.config, field)
        if want != have:
            raise InputError(
                f"{want!r} differs from the fleet in the store ({have!r}); --reset starts "
                "a new fleet",
                option,
            )
    kept = msgspec.structs.replace(
        config, start=stored.config.start
    )  # the world's start stays the stored one
    info = msgspec.structs.replace(stored, config=kept)
    store.client.set(store.keys.sim_config, msgspec.json.encode(info))
    k = store.keys
    hosts = sorted(
        (
            msgspec.json.decode(v, type=Host)
            for v in hash_reply(store.client.hgetall(k.sim_hosts)).values()
        ),
        key=lambda h: h.name,
    )
    vms = sorted(
        (
            msgspec.json.decode(v, type=VmFacts)
            for v in hash_reply(store.client.hgetall(k.sim_vms)).values()
        ),
        key=lambda v: v.name,
    )
    with store.client.pipeline(transaction=True) as pipe:
        pipe.hgetall(k.sim_placement)
        pipe.xrevrange(k.sim_moves, count=1)
        placed, last = pipe.execute()
    placement = {_text(vm): _text(host) for vm, host in hash_reply(placed).items()}
    moves_id = _text(last[0][0]) if last else "0-0"
    log.info("resuming the fleet in the store: %d hosts, %d VMs", len(hosts), len(vms))
    return FleetModel.build(info, store.trace(), hosts, vms, placement, moves_id)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _trace(config: FleetConfig) -> Trace:
    try:
        return load_trace(Path(config.trace))
    except TraceError as exc:
        raise InputError(str(exc), "--trace") from None


def _place(
    config: FleetConfig,
    info: FleetInfo,
    pct: npt.NDArray[np.float32],
    hosts: tuple[Host, ...],
    vms: tuple[VmFacts, ...],
) -> npt.NDArray[np.int64]:
    cpu = cores_at(
        pct,
        info.trace_step_s,
        info.trace_t0,
        config.start,
        np.array([v.row for v in vms], dtype=np.int64),
        np.array([v.offset for v in vms]),
        np.array([v.size_cores for v in vms]),
    )
    memory = np.array([float(v.memory_mib) for v in vms])
    return initial_placement(config.placement, hosts, cpu, memory)
