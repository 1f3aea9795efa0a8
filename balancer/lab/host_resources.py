"""Define and start a host's storage pools and networks (all autostarted, like a real
host's). Local pools live in the host's private ``/var/lib/libvirt``; shared pools in
the lab dir, which every host sees at the same path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from balancer.lab.host_xml import dir_pool_xml, network_xml
from balancer.lab.specs import HostSpec, PoolSpec
from balancer.lab.state import NetworkRecord


def pool_path(root: Path, pool: PoolSpec) -> str:
    """Where the host sees the pool (a shared pool with a ``view``: under that name)."""
    if pool.shared:
        return str(root / "pools" / (pool.view or pool.name))
    if pool.name == "default":
        return "/var/lib/libvirt/images"
    return f"/var/lib/libvirt/pools/{pool.name}"


def plan_networks(spec: HostSpec, bridge_prefix: str) -> tuple[NetworkRecord, ...]:
    return tuple(NetworkRecord(n, f"{bridge_prefix}{i}") for i, n in enumerate(spec.networks))


def define_resources(
    conn: Any, root: Path, pools: tuple[PoolSpec, ...], networks: tuple[NetworkRecord, ...]
) -> None:
    for pool in pools:
        obj = conn.storagePoolDefineXML(dir_pool_xml(pool.name, pool_path(root, pool)), 0)
        obj.build(0)
        obj.create(0)
        obj.setAutostart(1)
    for net in networks:
        obj = conn.networkDefineXML(network_xml(net.name, net.bridge))
        obj.create()
        obj.setAutostart(1)
