"""The exporter's read of the hosts: the snapshot's transaction (``raw_store``), each
report decoded into a few numbers instead of a snapshot's structs.

A snapshot decodes every VM of every report into a ``Vm`` struct and its parts (400,000
VMs: millions of objects, ~0.7 s) and then assembles and validates the cluster. A host's
line on ``/metrics`` needs its CPU and memory, used and capacity, its state, the age of
its report and how many VMs it holds: this decoder keeps only those fields and counts the
VMs from the msgpack array's header without decoding them (``--per-vm`` decodes four
fields of each VM). The host's state comes from the same rules as in a snapshot
(``assemble.host_state`` with the power records).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import redis

from balancer.core.models import Policy
from balancer.errors import SnapshotError
from balancer.state.assemble import host_state
from balancer.state.keys import Keys
from balancer.state.overrides import decode_policy
from balancer.state.power_records import decode_power, power_state
from balancer.state.raw_store import read_raw_as
from balancer.state.report import unpacked
from balancer.state.snapshot_read import decode_overrides

log = logging.getLogger(__name__)


class _Cpu(msgspec.Struct, frozen=True):
    cores: int


class _Host(msgspec.Struct, frozen=True):
    name: str
    state: str
    cpu: _Cpu
    memory_mib: int
    cpu_used: float = 0.0
    memory_used_mib: int = 0
    cpu_capacity: float | None = None


class VmLine(msgspec.Struct, frozen=True):
    """One VM's numbers (``--per-vm``)."""

    name: str
    cpu_used: float = 0.0
    memory_mib: int = 0
    dirty_rate_mib_s: float = 0.0


class _Lean(msgspec.Struct, frozen=True):
    host: _Host
    collected_at: float
    vms: msgspec.Raw = msgspec.Raw(b"\x90")


class _LeanVms(msgspec.Struct, frozen=True):
    host: _Host
    collected_at: float
    vms: tuple[VmLine, ...] = ()


_lean = msgspec.msgpack.Decoder(_Lean)
_lean_vms = msgspec.msgpack.Decoder(_LeanVms)


@dataclass(frozen=True, slots=True)
class HostLine:
    """What ``/metrics`` says of one host."""

    name: str
    state: str
    #: ``on``, ``off`` (powered off by the balancer or an operator) or ``booting``.
    power: str
    #: The heartbeat expired (and the host is not off on purpose).
    stale: bool
    cpu_used: float
    cpu_capacity: float
    memory_used_mib: int
    memory_mib: int
    vm_count: int
    collected_at: float
    vms: tuple[VmLine, ...] = ()


@dataclass(frozen=True)
class HostsRead:
    generation: int
    hosts: tuple[HostLine, ...]
    #: Hosts registered whose report is missing or does not decode.
    unreadable: int
    policy: Policy


def array_length(raw: bytes) -> int:
    """The length of a msgpack array from its header (0 for anything else)."""
    if not raw:
        return 0
    first = raw[0]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    if first == 0xDC and len(raw) >= 3:
        return int.from_bytes(raw[1:3], "big")
    if first == 0xDD and len(raw) >= 5:
        return int.from_bytes(raw[1:5], "big")
    return 0


def _decoder(per_vm: bool) -> msgspec.msgpack.Decoder[_Lean] | msgspec.msgpack.Decoder[_LeanVms]:
    return _lean_vms if per_vm else _lean


def read_hosts(client: redis.Redis, keys: Keys, *, per_vm: bool = False) -> HostsRead:
    """Every registered host's line, in one generation of the store."""
    decoder = _decoder(per_vm)

    def on_report(blob: bytes | None) -> _Lean | _LeanVms | None:
        if blob is None:
            return None
        try:
            return decoder.decode(unpacked(blob))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.debug("undecodable report: %s", exc)
            return None

    raw = read_raw_as(client, keys, on_report)
    overrides = decode_overrides(raw)
    power = decode_power(raw.power)
    lines: list[HostLine] = []
    for name, head, alive_raw in zip(raw.names, raw.reports, raw.alive, strict=True):
        if head is None or head.host.name != name:
            continue
        alive = alive_raw is not None
        h = head.host
        record = power.get(name)
        powered = power_state(record, head.collected_at, alive)
        override = overrides.get(name)
        state, reason = host_state(h, alive, override, powered)
        lines.append(
            HostLine(
                name=name,
                state=state,
                power=_power(state, reason),
                stale=state == "failed" and reason == "stale",
                cpu_used=h.cpu_used,
                cpu_capacity=float(h.cpu.cores) if h.cpu_capacity is None else h.cpu_capacity,
                memory_used_mib=h.memory_used_mib,
                memory_mib=h.memory_mib,
                vm_count=_count(head),
                collected_at=head.collected_at,
                vms=head.vms if isinstance(head, _LeanVms) else (),
            )
        )
    return HostsRead(raw.generation, tuple(lines), len(raw.names) - len(lines), _policy(raw.policy))


def _policy(blob: bytes | None) -> Policy:
    if blob is None:
        return Policy()
    try:
        return decode_policy(blob, "redis:op:policy")
    except SnapshotError as exc:
        log.warning("%s; the default policy's slots are shown", exc)
        return Policy()


def _power(state: str, reason: str) -> str:
    if state != "off":
        return "on"
    return "booting" if reason == "booting" else "off"


def _count(head: _Lean | _LeanVms) -> int:
    return len(head.vms) if isinstance(head, _LeanVms) else array_length(bytes(head.vms))


def count_by(lines: Sequence[HostLine], attr: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        value = getattr(line, attr)
        out[value] = out.get(value, 0) + 1
    return out
