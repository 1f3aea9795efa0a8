"""What an agent publishes: one ``HostReport`` per interval, msgpack-encoded.

The report embeds the snapshot's own ``Host`` and ``Vm`` structs, so building a snapshot
decodes straight into them (no copying field by field); the rest are facts the snapshot
format does not carry but operators want to see (load, NIC throughput, pools, what the
agent skipped). Readers ignore fields they do not know, so an agent may add facts without
a schema bump; changing or removing one needs a new ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import msgspec

from balancer.core.models import Host, Vm
from balancer.state.keys import SCHEMA_VERSION


class PoolFact(msgspec.Struct, frozen=True, kw_only=True):
    """A storage pool the host mounts; ``shared`` when other hosts see the same data."""

    name: str
    type: str
    shared: bool
    capacity_bytes: int = 0
    available_bytes: int = 0


class HostReport(msgspec.Struct, frozen=True, kw_only=True):
    schema: int = SCHEMA_VERSION
    host: Host
    vms: tuple[Vm, ...] = ()
    #: Agent clock (epoch seconds) when the facts were collected.
    collected_at: float
    interval_s: float
    #: Heartbeat lifetime: the host turns stale this long after the report.
    ttl_s: float
    #: Reports published by this agent process so far (restarts at 1).
    seq: int = 0
    agent_version: str = ""
    load_avg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    nic_rx_bytes_s: float = 0.0
    nic_tx_bytes_s: float = 0.0
    pools: tuple[PoolFact, ...] = ()
    #: QEMU process resident memory per VM (balloon.rss), MiB.
    vm_rss_mib: dict[str, int] = {}
    #: When each VM's dirty rate was measured (start of the measurement, epoch s).
    vm_dirty_rate_at: dict[str, float] = {}
    #: Facts the agent could not collect this time, each a short sentence.
    skipped: tuple[str, ...] = ()


class ReportHead(msgspec.Struct, frozen=True, kw_only=True):
    """The part of a report a snapshot needs; decoding skips the rest (fast path)."""

    schema: int = SCHEMA_VERSION
    host: Host
    vms: tuple[Vm, ...] = ()
    collected_at: float


class VmSample(msgspec.Struct, frozen=True, array_like=True):
    """One VM in one history entry: compact (an array, not a map)."""

    name: str
    cpu_used: float
    memory_mib: int
    rss_mib: int
    dirty_rate_mib_s: float


_encoder = msgspec.msgpack.Encoder()
_report_decoder = msgspec.msgpack.Decoder(HostReport)
_head_decoder = msgspec.msgpack.Decoder(ReportHead)
_samples_decoder = msgspec.msgpack.Decoder(tuple[VmSample, ...])


def encode_report(report: HostReport) -> bytes:
    return _encoder.encode(report)


def decode_report(data: bytes) -> HostReport:
    return _report_decoder.decode(data)


def decode_report_head(data: bytes) -> ReportHead:
    return _head_decoder.decode(data)


def history_samples(report: HostReport) -> tuple[VmSample, ...]:
    return tuple(
        VmSample(
            vm.name,
            vm.cpu_used,
            vm.memory_mib,
            report.vm_rss_mib.get(vm.name, 0),
            vm.dirty_rate_mib_s,
        )
        for vm in report.vms
    )


def encode_samples(samples: tuple[VmSample, ...]) -> bytes:
    return _encoder.encode(samples)


def decode_samples(data: bytes) -> tuple[VmSample, ...]:
    return _samples_decoder.decode(data)
