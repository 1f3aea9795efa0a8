"""What a simulated fleet is started with (``FleetConfig``, the options of ``balancer fleet
sim``) and what it stores for the workers to read (``FleetInfo``, ``Keys.sim_config``).

Times are fleet seconds except ``duration`` (the CLI's, real seconds) and the heartbeat's
Redis TTL (the report interval's lifetime scaled by the speed).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from balancer.errors import InputError

Placement = Literal["packed", "spread"]
PosFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]

#: Host memory filled by the VMs when every host holds its share (auto host scale).
AUTO_FILL = 0.7


class FleetConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    hosts: Annotated[int, msgspec.Meta(ge=1)]
    vms: Annotated[int, msgspec.Meta(ge=1)]
    seed: int = 0
    #: A trace folder or file (``balancer.traces.load``); the PlanetLab day by default.
    trace: str
    #: Fleet seconds per real second.
    speed: PosFloat = 1.0
    #: Fleet time when the fleet starts (default: the Unix time then).
    start: NonNegFloat
    #: Fleet seconds between two reports of a host.
    interval_s: PosFloat = 10.0
    #: Heartbeat lifetime in fleet seconds (default three intervals).
    ttl_s: PosFloat | None = None
    #: Fleet seconds a powered-on host takes before it reports.
    boot_s: NonNegFloat = 120.0
    #: MiB/s of memory a VM dirties per core it uses.
    dirty_per_core_mib_s: NonNegFloat = 16.0
    #: Migration bandwidth of every host, MiB/s (the reference: half of 1 Gbit/s).
    bandwidth_mib_s: PosFloat = 62.5
    #: VMs (chosen with the seed) that dirty memory faster than the link sends it.
    hot_vms: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: A hot VM's dirty rate, in multiples of the bandwidth.
    hot_factor: Annotated[float, msgspec.Meta(gt=1)] = 1.5
    #: Each host is this many reference hosts in one (cores, memory, watts); None: the
    #: smallest that holds the VMs with the memory ``AUTO_FILL`` full.
    host_scale: Annotated[int, msgspec.Meta(ge=1)] | None = None
    #: Each host's memory, in multiples of its reference hosts' (real hosts often have
    #: more memory per core than the 2008 reference: then CPU, not memory, binds first).
    memory_scale: Annotated[float, msgspec.Meta(ge=1, le=64)] = 1.0
    placement: Placement = "packed"
    #: Whether hosts left without a VM by the initial placement start on or off.
    empty_hosts_on: bool = True
    #: History entries kept per host (as an agent's ``--history-len``).
    history_len: Annotated[int, msgspec.Meta(ge=0)] = 12

    @property
    def heartbeat_s(self) -> float:
        return self.ttl_s if self.ttl_s is not None else 3 * self.interval_s

    def checked(self) -> FleetConfig:
        """Cross-option checks (one field's bounds are the struct's); ``InputError``
        names the option."""
        if self.hot_vms > self.vms:
            raise InputError(f"{self.hot_vms} hot VMs of {self.vms}", "--hot-vms")
        if self.ttl_s is not None and self.ttl_s <= self.interval_s:
            raise InputError(
                f"a heartbeat of {self.ttl_s} s expires before the next report "
                f"({self.interval_s} s)",
                "--ttl",
            )
        if not math.isfinite(self.start):
            raise InputError("not a time", "--start")
        if not Path(self.trace).exists():
            raise InputError(f"no trace at {self.trace}", "--trace")
        return self


class FleetInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the fleet stores under ``Keys.sim_config``: its configuration and the facts
    a worker needs to tell a VM's load at any fleet time."""

    config: FleetConfig
    host_scale: int
    trace_kind: str
    trace_rows: int
    trace_steps: int
    trace_step_s: float
    #: Fleet time of the trace's first sample.
    trace_t0: float


def decode_config(data: bytes) -> FleetInfo:
    return msgspec.json.decode(data, type=FleetInfo)


def encode_config(info: FleetInfo) -> bytes:
    return msgspec.json.encode(info)
