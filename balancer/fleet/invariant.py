"""The fleet's one invariant, checked on the store: every VM is on exactly one simulated
host (its ``sim:placement`` field names a host of the fleet, its host's VM set holds it,
and no other host's set does)."""

from __future__ import annotations

from balancer.fleet.store import FleetStore
from balancer.state.replies import hash_reply


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _read(store: FleetStore) -> tuple[dict[str, str], list[str], dict[str, list[str]], list[str]]:
    """Placement (VM → host), the VMs, each VM's holders (hosts whose set has it), hosts."""
    client, k = store.client, store.keys
    hosts = sorted(_text(h) for h in client.hkeys(k.sim_hosts))
    with client.pipeline(transaction=True) as pipe:
        pipe.hgetall(k.sim_placement)
        pipe.hkeys(k.sim_vms)
        for h in hosts:
            pipe.smembers(k.sim_host_vms(h))
        placement_raw, vms_raw, *sets = pipe.execute()
    placement = {_text(v): _text(h) for v, h in hash_reply(placement_raw).items()}
    holders: dict[str, list[str]] = {}
    for host, members in zip(hosts, sets, strict=True):
        for vm in members:
            holders.setdefault(_text(vm), []).append(host)
    return placement, sorted(_text(v) for v in vms_raw), holders, hosts


def placement_problems(store: FleetStore) -> list[str]:
    """What breaks the invariant (empty when it holds); reads the whole state at once."""
    placement, vms, holders, hosts = _read(store)
    problems = []
    for vm in vms:
        where, held = placement.get(vm), holders.get(vm, [])
        if where is None or where not in hosts:
            problems.append(f"{vm}: placed on {where!r}, not a host of the fleet")
        if held != ([where] if where is not None else []):
            problems.append(f"{vm}: placed on {where}, in the VM sets of {held}")
    return problems


def lost_and_duplicated(store: FleetStore) -> tuple[list[str], list[str]]:
    """VMs on no host of the fleet, and VMs on more than one."""
    placement, vms, holders, hosts = _read(store)
    known = set(hosts)
    lost = [v for v in vms if placement.get(v) not in known or not holders.get(v)]
    duplicated = [v for v in vms if len(holders.get(v, [])) > 1]
    return lost, duplicated
