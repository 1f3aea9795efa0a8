"""The snapshot structs of one report, from collected facts (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from balancer.core.models import Host, HostCpu, Power, Vm
from balancer.state.report import PoolFact
from workers.agent.domain_stats import DomainSample
from workers.agent.domain_xml import DomainFacts
from workers.agent.guest_cpu import guest_cpu
from workers.agent.host_facts import HostFacts
from workers.agent.host_usage import Usage
from workers.agent.storage import PoolInfo, resolve_disk


def build_vm(
    host_name: str,
    facts: DomainFacts,
    sample: DomainSample,
    host: HostFacts,
    *,
    cpu_used: float,
    dirty_rate_mib_s: float,
) -> Vm:
    memory_mib = (sample.balloon_kib or 0) // 1024 or facts.memory_mib
    return Vm(
        name=facts.name,
        host=host_name,
        state=sample.state,
        vcpus=sample.vcpus or facts.vcpus,
        cpu_used=round(cpu_used, 4),
        memory_mib=max(1, memory_mib),
        dirty_rate_mib_s=dirty_rate_mib_s,
        cpu=guest_cpu(facts, host),
        machine_type=facts.machine_type,
        disks=tuple(
            resolve_disk(d, host.pools, host.mounts, sample.block_capacity) for d in facts.disks
        ),
        networks=facts.networks,
        devices=facts.devices,
        numa_pinned=facts.numa_pinned,
        critical=facts.critical,
        labels=facts.labels,
    )


def build_host(
    name: str,
    uri: str,
    host: HostFacts,
    usage: Usage,
    vms: Iterable[Vm],
    *,
    migration_uri: str = "",
    power: Power | None = None,
) -> Host:
    """The host as the agent sees it (``active``); its pools include the network pools
    its own VMs' disks show it can reach (``rbd:volumes``, ``mount:/…``)."""
    reached = {d.pool for vm in vms for d in vm.disks if d.shared and ":" in d.pool}
    return Host(
        name=name,
        state="active",
        uri=uri,
        cpu=HostCpu(
            vendor=host.cpu_vendor,
            model=host.cpu_model,
            features=host.cpu_features,
            cores=usage.cores,
            models=host.cpu_models,
            hypervisors=host.hypervisors,
            physical=host.physical,
        ),
        memory_mib=max(1, usage.memory_total_mib),
        cpu_used=round(usage.cpu_used, 4),
        memory_used_mib=usage.memory_used_mib,
        numa_nodes=host.numa_nodes,
        storage_pools=tuple(sorted(set(host.pool_names) | reached)),
        networks=host.networks,
        versions=host.versions,
        machine_types=host.machine_types,
        migration_uri=migration_uri,
        power=power,
    )


def pool_facts(pools: Iterable[PoolInfo]) -> tuple[PoolFact, ...]:
    return tuple(
        PoolFact(
            name=p.name,
            type=p.type,
            shared=p.shared,
            capacity_bytes=p.capacity_bytes,
            available_bytes=p.available_bytes,
        )
        for p in pools
    )
