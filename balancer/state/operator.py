"""Writing operator facts into the store (each one command, so each is atomic).

Values are checked before they are stored: a bad rule or policy is refused here
(``InputError``), not discovered by the next snapshot.
"""

from __future__ import annotations

import time
from typing import cast

import redis

from balancer.core.models import AffinityRule, AntiAffinityRule, Policy, Rule
from balancer.errors import InputError
from balancer.state.keys import DEFAULT_KEYS, Keys
from balancer.state.overrides import HostOverride, OverrideState, decode_labels, encode_json

_OVERRIDE_STATES = frozenset({"maintenance", "draining", "off", "failed"})


def set_host_state(
    client: redis.Redis,
    host: str,
    state: str,
    *,
    reason: str = "",
    keys: Keys = DEFAULT_KEYS,
    now: float | None = None,
) -> None:
    """Put ``host`` in ``state``; ``active`` removes the override (the agent decides)."""
    if state == "active":
        client.hdel(keys.host_state, host)
        return
    if state not in _OVERRIDE_STATES:
        raise InputError(f"cannot set a host {state!r}: use {sorted(_OVERRIDE_STATES)} or active")
    override = HostOverride(
        state=cast(OverrideState, state), reason=reason, set_at=time.time() if now is None else now
    )
    client.hset(keys.host_state, host, encode_json(override))


def _check_rule(rule_id: str, rule: Rule) -> None:
    """Refused before anything is stored: an empty id, an (anti-)affinity rule of fewer
    than two distinct VMs."""
    if not rule_id:
        raise InputError("a rule needs an id")
    if isinstance(rule, AffinityRule | AntiAffinityRule) and len(set(rule.vms)) < 2:
        raise InputError("a rule needs at least two VMs", f"{rule_id}.vms")


def put_rule(client: redis.Redis, rule_id: str, rule: Rule, *, keys: Keys = DEFAULT_KEYS) -> None:
    _check_rule(rule_id, rule)
    client.hset(keys.rules, rule_id, encode_json(rule))


def put_rules(
    client: redis.Redis,
    rules: dict[str, Rule],
    *,
    replace: bool = False,
    keys: Keys = DEFAULT_KEYS,
) -> None:
    """Store several rules at once (one transaction); ``replace``: drop every other rule."""
    for rule_id, rule in rules.items():
        _check_rule(rule_id, rule)
    pipe = client.pipeline(transaction=True)
    if replace:
        pipe.delete(keys.rules)
    if rules:
        pipe.hset(keys.rules, mapping={k: encode_json(r) for k, r in rules.items()})
    pipe.execute()


def delete_rule(client: redis.Redis, rule_id: str, *, keys: Keys = DEFAULT_KEYS) -> bool:
    return bool(client.hdel(keys.rules, rule_id))


def set_policy(client: redis.Redis, policy: Policy | None, *, keys: Keys = DEFAULT_KEYS) -> None:
    """Store the policy; ``None`` removes it (snapshots then carry the defaults)."""
    if policy is None:
        client.delete(keys.policy)
    else:
        client.set(keys.policy, encode_json(policy))


def set_vm_labels(
    client: redis.Redis, vm: str, labels: dict[str, str], *, keys: Keys = DEFAULT_KEYS
) -> None:
    """Labels merged over the agent's for ``vm``; an empty dict removes them."""
    if labels:
        client.hset(keys.vm_labels, vm, encode_json(labels))
    else:
        client.hdel(keys.vm_labels, vm)


def update_vm_labels(
    client: redis.Redis,
    vm: str,
    *,
    add: dict[str, str] | None = None,
    remove: frozenset[str] = frozenset(),
    keys: Keys = DEFAULT_KEYS,
) -> dict[str, str]:
    """Merge ``add`` into ``vm``'s operator labels and drop ``remove``, atomically (a
    concurrent change makes the transaction start again); returns the labels stored."""

    result: dict[str, str] = {}

    def change(pipe: redis.client.Pipeline) -> None:
        nonlocal result
        stored = pipe.hget(keys.vm_labels, vm)
        where = f"redis:op:vm-labels[{vm}]"
        labels = {} if stored is None else decode_labels(cast(bytes, stored), where)
        result = {k: v for k, v in {**labels, **(add or {})}.items() if k not in remove}
        pipe.multi()
        if result:
            pipe.hset(keys.vm_labels, vm, encode_json(result))
        else:
            pipe.hdel(keys.vm_labels, vm)

    client.transaction(change, keys.vm_labels)
    return result


def record_migration(client: redis.Redis, vm: str, at: float, *, keys: Keys = DEFAULT_KEYS) -> None:
    """When ``vm`` last migrated (the executor's write; snapshots carry it for cool-down)."""
    client.zadd(keys.vm_migrated, {vm: at})


def forget_host(client: redis.Redis, host: str, *, keys: Keys = DEFAULT_KEYS) -> None:
    """Remove a decommissioned host and everything about it, in one transaction."""
    pipe = client.pipeline(transaction=True)
    pipe.srem(keys.hosts, host)
    pipe.delete(keys.report(host), keys.alive(host), keys.history(host), keys.vm_resident(host))
    pipe.hdel(keys.host_state, host)
    pipe.execute()
