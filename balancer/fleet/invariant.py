"""The fleet's one invariant, checked on the store: every VM is on exactly one simulated
host (its ``sim:placement`` field names a host of the fleet, its host's VM set holds it,
and no other host's set does)."""

from __future__ import annotations

from balancer.fleet.store import FleetStore
from balancer.state.replies import hash_reply


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def placement_problems(store: FleetStore) -> list[str]:
    """What breaks the invariant (empty when it holds); reads the whole state at once."""
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
    problems = []
    for vm in sorted(_text(v) for v in vms_raw):
        where, held = placement.get(vm), holders.get(vm, [])
        if where is None or where not in hosts:
            problems.append(f"{vm}: placed on {where!r}, not a host of the fleet")
        if held != ([where] if where is not None else []):
            problems.append(f"{vm}: placed on {where}, in the VM sets of {held}")
    return problems
