"""What the snapshot reader does not take on an agent's word (pure: no I/O).

An agent's password lets it write its own host's report, nothing else (docs/security.md);
what that report says is still only a claim:

- **Bounds**: a report whose numbers no real host has (memory, cores, CPU used, rates,
  counts, name lengths; ``inf``/``NaN``) is *implausible*: its host is kept ``failed``
  with the reason (``implausible report: …``), its numbers clamped into range and its VMs
  left out — nothing moves to or from it, and one absurd report never fails the
  snapshot or skews the plan (``implausible``, ``quarantined``).
- **A VM claimed by two hosts** is resolved by evidence, never by which report came
  first or last: a running claim beats a paused one beats a shut-off one (what each
  host's libvirt says), a live host beats a stale one; two equal claims are settled by
  the executor's records (``claims_by_record``: a migration under way keeps it on its
  source; the last one ended left it on its destination if completed, else on its
  source); without such a record, every host
  claiming it is marked ``failed`` (``conflicting claim: …``) so the planner touches none
  of them until the claim goes away.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from operator import attrgetter

import msgspec

from balancer.core.models import Host, Vm
from balancer.state.migrations import MigrationRecord, decode_record
from balancer.state.report import ReportHead

#: Upper bounds no real host or VM reaches (a few times today's largest machines).
MAX_MEMORY_MIB = 64 * 2**20  # 64 TiB
MAX_CORES = 4096
MAX_VMS_PER_HOST = 10_000
MAX_RATE_MIB_S = 10.0**6  # dirty rate, bandwidth: 1 TiB/s
MAX_NAME = 253
MAX_LIST = 10_000
IMPLAUSIBLE = "implausible report"
CONFLICT = "conflicting claim"


def _number(value: float, bound: float, what: str) -> str | None:
    if not math.isfinite(value) or value < 0 or value > bound:
        return f"{what}={value!r} (bound {bound:g})"
    return None


def _host_problem(h: Host) -> str | None:
    cores = h.cpu.cores
    checks = (
        _number(h.memory_mib, MAX_MEMORY_MIB, "memory_mib"),
        _number(h.memory_used_mib, MAX_MEMORY_MIB, "memory_used_mib"),
        _number(cores, MAX_CORES, "cpu.cores"),
        _number(h.cpu_used, MAX_CORES, "cpu_used"),
        _number(h.cpu_capacity or cores, MAX_CORES, "cpu_capacity"),
        _number(h.numa_nodes, 1024, "numa_nodes"),
        _number(h.migration_bandwidth_mib_s, MAX_RATE_MIB_S, "migration_bandwidth_mib_s"),
    )
    problem = next((c for c in checks if c is not None), None)
    if problem is not None:
        return problem
    texts = (h.name, h.uri, *h.storage_pools, *h.networks, *h.machine_types, *h.labels,
             *h.labels.values(), *h.cpu.features)  # fmt: skip
    return _texts(texts, "host")


def _texts(texts: Iterable[str], what: str) -> str | None:
    items = tuple(texts)
    if len(items) > MAX_LIST:
        return f"{what}: {len(items)} names and labels (bound {MAX_LIST})"
    longest = max(items, key=len, default="")
    if len(longest) > MAX_NAME:
        return f"{what}: a name of {len(longest)} characters (bound {MAX_NAME})"
    return None


def _vm_problem(v: Vm, cores: int) -> str | None:
    checks = (
        _number(v.memory_mib, MAX_MEMORY_MIB, f"VM {v.name[:MAX_NAME]}: memory_mib"),
        _number(v.vcpus, MAX_CORES, f"VM {v.name[:MAX_NAME]}: vcpus"),
        _number(v.cpu_used, _cpu_bound(cores), f"VM {v.name[:MAX_NAME]}: cpu_used"),
        _number(v.dirty_rate_mib_s, MAX_RATE_MIB_S, f"VM {v.name[:MAX_NAME]}: dirty_rate_mib_s"),
        _number(v.working_set_mib or 0.0, MAX_MEMORY_MIB, f"VM {v.name[:MAX_NAME]}: working_set"),
        _number(v.resident_mib or 0.0, MAX_MEMORY_MIB, f"VM {v.name[:MAX_NAME]}: resident_mib"),
    )
    problem = next((c for c in checks if c is not None), None)
    if problem is not None:
        return problem
    texts = (v.name, v.machine_type, *v.networks, *(d.pool for d in v.disks), *v.labels,
             *v.labels.values(), *v.cpu.features)  # fmt: skip
    return _texts(texts, f"VM {v.name[:MAX_NAME]}")


def _cpu_bound(cores: int) -> float:
    """A VM uses at most its host's cores (half as much again for measuring jitter)."""
    return 1.5 * cores


_memory = attrgetter("memory_mib")
_cpu = attrgetter("cpu_used")
_dirty = attrgetter("dirty_rate_mib_s")


def _host_numbers_ok(h: Host) -> bool:
    cores = h.cpu.cores
    return (
        h.memory_mib <= MAX_MEMORY_MIB
        and h.memory_used_mib <= MAX_MEMORY_MIB
        and cores <= MAX_CORES
        and 0 <= h.cpu_used <= MAX_CORES  # False for NaN
        and (h.cpu_capacity is None or 0 < h.cpu_capacity <= MAX_CORES)
        and 0 < h.migration_bandwidth_mib_s <= MAX_RATE_MIB_S
        and h.numa_nodes <= 1024
    )


def _looks_plausible(head: ReportHead) -> bool:
    """The fast check every report goes through (a snapshot of 400,000 VMs reads them
    all): the host's numbers, then the largest memory, CPU used and dirty rate of its VMs
    within bounds and their sums finite (``inf`` and ``NaN`` make them not). Names,
    labels and the VMs' other numbers are looked at only when this fails (each VM's
    strings would cost 2 s a snapshot; the report's size cap bounds them)."""
    vms = head.vms
    if not _host_numbers_ok(head.host) or len(vms) > MAX_VMS_PER_HOST:
        return False
    if not vms:
        return True
    cpu = list(map(_cpu, vms))
    dirty = list(map(_dirty, vms))
    return (
        max(map(_memory, vms)) <= MAX_MEMORY_MIB
        and math.isfinite(sum(cpu))
        and max(cpu) <= _cpu_bound(head.host.cpu.cores)
        and math.isfinite(sum(dirty))
        and max(dirty) <= MAX_RATE_MIB_S
    )


def implausible(head: ReportHead) -> str | None:
    """Why ``head`` is not a real host's report (the first value out of bounds), or None.

    Every report goes through the fast check; only one that fails it is looked at
    value by value (and then also its names and the VMs' other numbers), for the reason.
    """
    if _looks_plausible(head):
        return None
    problem = _host_problem(head.host)
    if problem is None and len(head.vms) > MAX_VMS_PER_HOST:
        problem = f"{len(head.vms)} VMs (bound {MAX_VMS_PER_HOST})"
    if problem is None:
        cores = head.host.cpu.cores
        problem = next((p for v in head.vms if (p := _vm_problem(v, cores)) is not None), None)
    return None if problem is None else f"{IMPLAUSIBLE}: {problem}"


def _clamp(value: float, low: float, high: float) -> float:
    return low if not math.isfinite(value) else min(max(value, low), high)


def quarantined(head: ReportHead, reason: str) -> ReportHead:
    """The host of an implausible report, ``failed`` with ``reason``, its numbers clamped
    into range, without VMs."""
    h = head.host
    cores = int(_clamp(h.cpu.cores, 1, MAX_CORES))
    host = msgspec.structs.replace(
        h,
        state="failed",
        state_reason=reason,
        memory_mib=int(_clamp(h.memory_mib, 1, MAX_MEMORY_MIB)),
        memory_used_mib=int(_clamp(h.memory_used_mib, 0, MAX_MEMORY_MIB)),
        cpu=msgspec.structs.replace(h.cpu, cores=cores),
        cpu_used=_clamp(h.cpu_used, 0, cores),
        cpu_capacity=None if h.cpu_capacity is None else _clamp(h.cpu_capacity, 1, MAX_CORES),
        numa_nodes=int(_clamp(h.numa_nodes, 1, 1024)),
        migration_bandwidth_mib_s=_clamp(h.migration_bandwidth_mib_s, 1, MAX_RATE_MIB_S),
    )
    return msgspec.structs.replace(head, host=host, vms=())


def claims_by_record(
    records: Mapping[str, bytes | None], running: Iterable[bytes] = ()
) -> dict[str, str]:
    """VM → the host the executor's records leave it on: for a VM whose migration is
    under way (``running``: the values of ``exec:running``), its source — during a live
    migration both hosts report the guest, and it has not moved until the record says it
    has —; otherwise its last ended migration (``records``: ``exec:outcome:<vm>`` as
    stored): the destination of a completed one, the source of any other. A record that
    does not decode, or that names another VM, is no evidence."""
    out: dict[str, str] = {}
    for vm, raw in records.items():
        record = _record(raw)
        if record is None or record.vm != vm or record.result == "running":
            continue
        out[vm] = record.dest if record.result == "completed" else record.source
    for raw in running:
        record = _record(raw)
        if record is not None and record.result == "running" and record.vm in records:
            out[record.vm] = record.source
    return out


def _record(raw: bytes | None) -> MigrationRecord | None:
    if raw is None:
        return None
    try:
        return decode_record(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
