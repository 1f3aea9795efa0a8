"""What an agent publishes: one ``HostReport`` per interval, msgpack-encoded and
zstd-compressed.

The report embeds the snapshot's own ``Host`` and ``Vm`` structs, so building a snapshot
decodes straight into them (no copying field by field); the rest are facts the snapshot
format does not carry but operators want to see (load, NIC throughput, pools, what the
agent skipped). Readers ignore fields they do not know, so an agent may add facts without
a schema bump; changing or removing one needs a new ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import msgspec
import zstandard

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


def _defaults(struct: type[msgspec.Struct]) -> tuple[tuple[str, object], ...]:
    out: list[tuple[str, object]] = []
    for f in msgspec.structs.fields(struct):
        if f.default is not msgspec.NODEFAULT:
            out.append((f.name, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            out.append((f.name, f.default_factory()))
    return tuple(out)


#: ``schema`` is always written: a reader of another version must see what it reads.
_REPORT_DEFAULTS = tuple(d for d in _defaults(HostReport) if d[0] != "schema")
_HOST_DEFAULTS = _defaults(Host)
_VM_DEFAULTS = _defaults(Vm)


def _lean(value: msgspec.Struct, defaults: tuple[tuple[str, object], ...]) -> dict[str, object]:
    """The struct's fields as a dict, without those that hold their default."""
    fields = msgspec.structs.asdict(value)
    for name, default in defaults:
        if fields[name] == default:
            del fields[name]
    return fields


_report_decoder = msgspec.msgpack.Decoder(HostReport)
_head_decoder = msgspec.msgpack.Decoder(ReportHead)
_samples_decoder = msgspec.msgpack.Decoder(tuple[VmSample, ...])


#: zstd level: 3 (the library's default) packs a report of 40 VMs 6.4 times smaller
#: than its msgpack; decompressing every report of 10,000 hosts takes ≈ 0.1 s.
ZSTD_LEVEL = 3
#: No report is this large (≈ 14 KiB for 40 VMs): a bigger one is refused, not inflated.
MAX_REPORT_BYTES = 64 * 2**20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_zstd = threading.local()  # zstandard's (de)compressor objects are not thread-safe


def report_msgpack(report: HostReport) -> bytes:
    """msgpack, leaving out report, host and VM fields that hold their default (a decoder
    fills them back in): about a fifth fewer bytes (a VM's ``devices``, ``numa_pinned``,
    ``critical``, ``last_migrated_at``, ...)."""
    fields = _lean(report, _REPORT_DEFAULTS)
    fields["host"] = _lean(report.host, _HOST_DEFAULTS)
    if report.vms:
        fields["vms"] = [_lean(vm, _VM_DEFAULTS) for vm in report.vms]
    return _encoder.encode(fields)


def encode_report(report: HostReport) -> bytes:
    """The stored form: ``report_msgpack`` in one zstd frame (with its size). A snapshot
    reads every report; compressed, Redis holds and sends a sixth of the bytes (14 → 2.2
    KiB for 40 VMs), which is most of its work in a snapshot and of the network's."""
    if not hasattr(_zstd, "compressor"):
        _zstd.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    compressed: bytes = _zstd.compressor.compress(report_msgpack(report))
    return compressed


def unpacked(data: bytes) -> bytes:
    """A stored report's msgpack: the zstd frame decompressed; a report that is not
    compressed (written before reports were) as it is. A corrupt frame, or a report
    over ``MAX_REPORT_BYTES`` compressed or not, raises ``msgspec.DecodeError``, as
    undecodable msgpack does."""
    if not data.startswith(_ZSTD_MAGIC):
        if len(data) > MAX_REPORT_BYTES:
            raise msgspec.DecodeError(
                f"uncompressed report of {len(data)} bytes (at most {MAX_REPORT_BYTES})"
            )
        return data
    try:
        size = zstandard.frame_content_size(data)
        if not 0 <= size <= MAX_REPORT_BYTES:
            raise msgspec.DecodeError(f"compressed report of unknown or excessive size {size}")
        if not hasattr(_zstd, "decompressor"):
            _zstd.decompressor = zstandard.ZstdDecompressor()
        out: bytes = _zstd.decompressor.decompress(data)
    except zstandard.ZstdError as exc:
        raise msgspec.DecodeError(f"corrupt compressed report: {exc}") from None
    return out


def decode_report(data: bytes) -> HostReport:
    return _report_decoder.decode(unpacked(data))


def decode_report_head(data: bytes) -> ReportHead:
    return _head_decoder.decode(unpacked(data))


def with_resident(report: HostReport, resident_mib: Mapping[str, float]) -> HostReport:
    """``report`` with each VM's ``resident_mib`` as the executor measured it (VMs it has
    no measure of: unknown)."""
    vms = tuple(
        vm
        if vm.resident_mib == resident_mib.get(vm.name)
        else msgspec.structs.replace(vm, resident_mib=resident_mib.get(vm.name))
        for vm in report.vms
    )
    if all(a is b for a, b in zip(vms, report.vms, strict=True)):
        return report
    return msgspec.structs.replace(report, vms=vms)


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
