"""What ``balancer hosts`` and ``balancer vms`` print: rows built from the store's
reports (a pure function of them and the clock), with each host's staleness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from balancer.state.assemble import host_state
from balancer.state.overrides import HostOverride
from balancer.state.power_records import PowerRecord, power_state
from balancer.state.report import HostReport


class HostRow(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    state: str
    reason: str
    #: Seconds since the agent collected the report (agent clock against ours).
    age_s: float
    stale: bool
    cores: int
    cpu_used: float
    memory_mib: int
    memory_used_mib: int
    vms: int
    load_1m: float
    skipped: tuple[str, ...]


class VmRow(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    host: str
    state: str
    vcpus: int
    cpu_used: float
    memory_mib: int
    rss_mib: int
    dirty_rate_mib_s: float
    age_s: float
    stale: bool


def host_rows(
    reports: Sequence[HostReport],
    alive: frozenset[str],
    overrides: Mapping[str, HostOverride],
    now: float,
    power: Mapping[str, PowerRecord] | None = None,
) -> list[HostRow]:
    rows = []
    records = power or {}
    for r in sorted(reports, key=lambda r: r.host.name):
        h = r.host
        powered = power_state(records.get(h.name), r.collected_at, h.name in alive)
        state, why = host_state(h, h.name in alive, overrides.get(h.name), powered)
        rows.append(
            HostRow(
                name=h.name,
                state=state,
                reason=why,
                age_s=max(0.0, now - r.collected_at),
                stale=h.name not in alive,
                cores=h.cpu.cores,
                cpu_used=h.cpu_used,
                memory_mib=h.memory_mib,
                memory_used_mib=h.memory_used_mib,
                vms=len(r.vms),
                load_1m=r.load_avg[0],
                skipped=r.skipped,
            )
        )
    return rows


def vm_rows(reports: Sequence[HostReport], alive: frozenset[str], now: float) -> list[VmRow]:
    rows = [
        VmRow(
            name=vm.name,
            host=vm.host,
            state=vm.state,
            vcpus=vm.vcpus,
            cpu_used=vm.cpu_used,
            memory_mib=vm.memory_mib,
            rss_mib=r.vm_rss_mib.get(vm.name, 0),
            dirty_rate_mib_s=vm.dirty_rate_mib_s,
            age_s=max(0.0, now - r.collected_at),
            stale=r.host.name not in alive,
        )
        for r in reports
        for vm in r.vms
    ]
    return sorted(rows, key=lambda v: (v.name, v.host))
