"""The simulated hosts and VMs (pure): every VM may move to every host (all host filters
pass), trace rows are chosen with the seed, hosts are scaled to hold the VMs, and the
initial placement keeps within the hosts."""

from __future__ import annotations

import numpy as np
import pytest

from balancer.core.cluster import ClusterState
from balancer.core.filters import HOST_FILTERS, FilterContext, first_rejection
from balancer.core.models import Policy, Snapshot
from balancer.core.rules import RuleIndex
from balancer.fleet.config import FleetConfig
from balancer.fleet.facts import auto_scale, build_hosts, build_vms, mean_vm_memory_mib, vm_struct
from balancer.fleet.placement import initial_placement


def config(**kw: object) -> FleetConfig:
    fields: dict[str, object] = {"hosts": 6, "vms": 40, "trace": "unused", "start": 0.0, **kw}
    return FleetConfig(**fields)  # type: ignore[arg-type]


def test_every_vm_passes_every_host_filter_on_every_other_host() -> None:
    c = config()
    hosts = build_hosts(c, auto_scale(c))
    facts = build_vms(c, rows=100, steps=288)
    vms = tuple(vm_struct(f, hosts[j % len(hosts)].name) for j, f in enumerate(facts))
    snapshot = Snapshot(version=1, taken_at=0.0, generation=0, hosts=hosts, vms=vms)
    policy = Policy()
    ctx = FilterContext(ClusterState(snapshot, policy), RuleIndex.build(()), policy)
    for vm in vms:
        for host in hosts:
            if host.name != vm.host:
                assert first_rejection(HOST_FILTERS, vm, host, ctx).ok, (vm.name, host.name)
    assert not any(h.uri.startswith("qemu:///session") for h in hosts)
    assert {h.labels["type"] for h in hosts} == {"HP ProLiant ML110 G4", "HP ProLiant ML110 G5"}


def test_trace_rows_are_each_used_once_before_any_repeats() -> None:
    few = build_vms(config(vms=40, seed=5), rows=100, steps=288)
    assert len({v.row for v in few}) == 40
    assert all(v.offset == 0 for v in few)
    many = build_vms(config(vms=250, seed=5), rows=100, steps=288)
    assert sorted(v.row for v in many[:100]) == list(range(100))
    assert any(v.offset > 0 for v in many[100:])
    assert build_vms(config(vms=40, seed=5), 100, 288) == few  # the seed decides
    assert build_vms(config(vms=40, seed=6), 100, 288) != few


def test_hot_vms_are_counted_and_memory_facts_in_range() -> None:
    vms = build_vms(config(vms=40, hot_vms=7), rows=100, steps=288)
    assert sum(v.hot for v in vms) == 7
    for v in vms:
        assert 0.3 * v.memory_mib <= v.nonzero_mib <= 0.9 * v.memory_mib
        assert v.working_set_mib == pytest.approx(0.25 * v.memory_mib, abs=0.1)


@pytest.mark.parametrize(("hosts", "vms"), [(6, 40), (100, 2000), (10, 400)])
def test_the_automatic_scale_holds_the_vms_at_70_percent_memory(hosts: int, vms: int) -> None:
    c = config(hosts=hosts, vms=vms)
    scale = auto_scale(c)
    capacity = hosts * 4096 * scale
    need = vms * mean_vm_memory_mib(vms)
    assert need <= 0.7 * capacity
    assert scale == 1 or need > 0.7 * hosts * 4096 * (scale - 1)
    assert auto_scale(config(host_scale=3)) == 3


@pytest.mark.parametrize("how", ["packed", "spread"])
def test_the_initial_placement_keeps_every_host_within_its_memory(how: str) -> None:
    c = config(hosts=600, vms=3000)
    hosts = build_hosts(c, auto_scale(c))
    vms = build_vms(c, rows=1000, steps=288)
    cpu = np.array([v.size_cores * 0.2 for v in vms])
    memory = np.array([float(v.memory_mib) for v in vms])
    where = initial_placement(how, hosts, cpu, memory)  # type: ignore[arg-type]
    used = np.bincount(where, weights=memory, minlength=len(hosts))
    assert (used <= np.array([h.memory_mib for h in hosts])).all()
    counts = np.bincount(where, minlength=len(hosts))
    if how == "spread":
        assert counts.max() - counts.min() <= 1
    else:
        assert (counts == 0).sum() > 0  # packing leaves hosts empty
        cap = np.array([h.cpu_capacity_cores for h in hosts])
        load = np.bincount(where, weights=cpu, minlength=len(hosts))
        assert (load <= cap * 0.7 + 1e-9).all()
