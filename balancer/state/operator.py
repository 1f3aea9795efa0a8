"""Writing operator facts into the store (each one command or transaction, so each is
atomic).

Values are checked before they are stored, by the rules the snapshot reader applies
(``balancer.core.validate``): a bad rule or policy is refused here (``InputError``, and
nothing is written), not discovered by the next snapshot. Rules are checked together
with those already stored (no contradiction, under a watch so two writers cannot make
one); a policy is held to the models' bounds and names the hosts it evacuates; names
carry no control characters.
"""

from __future__ import annotations

import time
from typing import cast

import redis

from balancer.core.models import Policy, Rule, Snapshot
from balancer.core.validate import bounded, check_policy, check_rules, name_problem
from balancer.errors import InputError
from balancer.state.keys import DEFAULT_KEYS, Keys
from balancer.state.overrides import (
    HostOverride,
    OverrideState,
    decode_labels,
    decode_rule,
    encode_json,
)

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


def _check_id(rule_id: str) -> None:
    problem = name_problem(rule_id)
    if problem is not None:
        raise InputError(f"bad rule id: {problem}", "ID")


def put_rule(client: redis.Redis, rule_id: str, rule: Rule, *, keys: Keys = DEFAULT_KEYS) -> None:
    put_rules(client, {rule_id: rule}, keys=keys)


def put_rules(
    client: redis.Redis,
    rules: dict[str, Rule],
    *,
    replace: bool = False,
    keys: Keys = DEFAULT_KEYS,
) -> None:
    """Store several rules at once (one transaction); ``replace``: drop every other rule.
    Refused (nothing stored) when a rule is malformed or the rules then stored would
    contradict each other (``check_rules``)."""
    for rule_id in rules:
        _check_id(rule_id)
    check_rules(list(rules.values()), paths=list(rules))

    def write(pipe: redis.client.Pipeline) -> None:
        kept: dict[str, Rule] = {}
        if not replace:
            stored = cast(dict[bytes, bytes], pipe.hgetall(keys.rules))
            for k, v in stored.items():
                name = k.decode(errors="replace")
                if name not in rules:
                    kept[name] = decode_rule(v, f"redis:op:rules[{name}]")
        merged = {**kept, **rules}
        check_rules(list(merged.values()), paths=list(merged))
        pipe.multi()
        if replace:
            pipe.delete(keys.rules)
        if rules:
            pipe.hset(keys.rules, mapping={k: encode_json(r) for k, r in rules.items()})

    client.transaction(write, keys.rules)


def delete_rule(client: redis.Redis, rule_id: str, *, keys: Keys = DEFAULT_KEYS) -> bool:
    return bool(client.hdel(keys.rules, rule_id))


def set_policy(
    client: redis.Redis,
    policy: Policy | None,
    *,
    keys: Keys = DEFAULT_KEYS,
    against: Snapshot | None = None,
) -> None:
    """Store the policy; ``None`` removes it (snapshots then carry the defaults).
    Refused (nothing stored): a value out of the models' bounds, a host name with control
    characters, and — ``against`` the store's snapshot when given — what the reader
    checks (``check_policy``: unknown hosts to evacuate, an ``evacuate`` objective with
    nothing to evacuate)."""
    if policy is None:
        client.delete(keys.policy)
        return
    policy = bounded(policy)
    for j, host in enumerate(policy.evacuate_hosts):
        problem = name_problem(host)
        if problem is not None:
            raise InputError(problem, f"policy.evacuate_hosts[{j}]")
    if against is not None:
        check_policy(against, policy)
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
    pipe.hdel(keys.power, host)
    pipe.execute()
