"""Guarded, fenced power actions. Off only when the host has no domain at all (asked on
the live libvirt connection, not the store); on, then wait for the host's agent heartbeat.
Right before the driver acts, the fence (``workers.executor.fence``) takes the host's
power lease under the order's epoch or refuses (``fenced`` / ``cancelled``: recorded,
not failed, not retried).

Written back (the snapshot read applies it; the daemon clears it once the agent reports):

    kvmb:ctl:power              HASH host → {"state": "off"|"booting", "at": t, "epoch": e}
    kvmb:exec:power             STREAM field ``record``: a JSON ``PowerRecord`` per action
    kvmb:exec:plan:<p>:results  HASH power-task id → result
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

import msgspec
import redis

from balancer.errors import PermanentError, PowerRefusedError, RefusedError
from balancer.state.keys import PLAN_KEEP_S, Keys
from workers.executor.fence import Fence, Ticket
from workers.executor.order import PowerOrder
from workers.executor.redis_edge import redis_edge
from workers.power.driver import PowerDriver

PowerResult = Literal["completed", "failed", "fenced", "cancelled"]
POWER_LOG_MAXLEN = 10000
HEARTBEAT_POLL_S = 1.0
T = TypeVar("T")


class DomainLister(Protocol):
    def domains(self, host: str) -> tuple[str, ...]: ...


class PowerRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    plan_id: str
    host: str
    action: str
    reason: str
    epoch: int | None
    at: float
    result: PowerResult
    detail: str = ""


@dataclass(frozen=True)
class PowerDeps:
    client: redis.Redis
    keys: Keys
    fence: Fence
    clock: Callable[[], float]
    sleep: Callable[[float], None]


Drivers = Callable[[str], PowerDriver]


def power_off(
    order: PowerOrder, drivers: Drivers, hv: DomainLister, deps: PowerDeps, token: str
) -> PowerResult:
    """Power ``order.host`` off with its driver from ``drivers`` (the worker's own)."""
    driver = _failing(deps, order, lambda: drivers(order.host))
    left = hv.domains(order.host)
    if left:
        detail = f"{order.host} still has {len(left)} domain(s): {', '.join(left)}"
        _record(deps, order, "failed", detail)
        raise PowerRefusedError(detail)
    return _fenced(order, deps, token, lambda: _off(order, driver, deps))


def _off(order: PowerOrder, driver: PowerDriver, deps: PowerDeps) -> None:
    _failing(deps, order, driver.power_off)
    _write_state(deps, order, "off")
    _record(deps, order, "completed", "")


def power_on(
    order: PowerOrder, drivers: Drivers, deps: PowerDeps, token: str, *, timeout_s: float
) -> PowerResult:
    """Power ``order.host`` on, then wait up to ``timeout_s`` (of ``deps.clock``) for its
    agent's heartbeat."""
    driver = _failing(deps, order, lambda: drivers(order.host))
    ticket = Ticket(order.id, order.plan_id, order.epoch, token)

    def on() -> None:
        _failing(deps, order, driver.power_on)
        _write_state(deps, order, "booting")
        deadline = deps.clock() + timeout_s
        while deps.clock() < deadline:
            with redis_edge(f"read the heartbeat of {order.host}"):
                if deps.client.exists(deps.keys.alive(order.host)):
                    _record(deps, order, "completed", "")
                    return
            deps.fence.renew(deps.keys.power_lease(order.host), ticket)
            deps.sleep(HEARTBEAT_POLL_S)
        detail = f"{order.host}: no agent heartbeat {timeout_s:.0f}s after power-on"
        _record(deps, order, "failed", detail)
        raise PowerRefusedError(detail)

    return _fenced(order, deps, token, on)


def _fenced(order: PowerOrder, deps: PowerDeps, token: str, act: Callable[[], None]) -> PowerResult:
    """``act`` under the host's power lease, if the fence lets it."""
    lease = deps.keys.power_lease(order.host)
    try:
        deps.fence.check(lease, Ticket(order.id, order.plan_id, order.epoch, token))
    except RefusedError as exc:
        result: PowerResult = "fenced" if exc.result == "fenced" else "cancelled"
        _record(deps, order, result, str(exc))
        return result
    try:
        act()
    finally:
        deps.fence.release(lease, token)
    return "completed"


def _failing(deps: PowerDeps, order: PowerOrder, call: Callable[[], T]) -> T:
    """A driver call; a permanent failure is recorded before it goes up (a retryable one
    is retried by the task)."""
    try:
        return call()
    except PermanentError as exc:
        _record(deps, order, "failed", str(exc))
        raise


def _write_state(deps: PowerDeps, order: PowerOrder, state: str) -> None:
    value = json.dumps({"state": state, "at": deps.clock(), "epoch": order.epoch})
    with redis_edge(f"record {order.host} {state}"):
        deps.client.hset(deps.keys.power, order.host, value)


def _record(deps: PowerDeps, order: PowerOrder, result: PowerResult, detail: str) -> None:
    rec = PowerRecord(id=order.id, plan_id=order.plan_id, host=order.host, action=order.action,
                      reason=order.reason.value, epoch=order.epoch, at=deps.clock(),
                      result=result, detail=detail)  # fmt: skip
    with (
        redis_edge(f"record the power-{order.action} of {order.host}"),
        deps.client.pipeline(transaction=True) as pipe,
    ):
        pipe.xadd(deps.keys.power_log, {"record": msgspec.json.encode(rec)},
                  maxlen=POWER_LOG_MAXLEN, approximate=True)  # fmt: skip
        if order.plan_id:
            pipe.hset(deps.keys.plan_results(order.plan_id), order.id, result)
            pipe.expire(deps.keys.plan_results(order.plan_id), PLAN_KEEP_S)
        pipe.execute()


def power_records(client: redis.Redis, keys: Keys) -> list[PowerRecord]:
    """Every power action recorded, oldest first."""
    entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(keys.power_log)  # type: ignore[assignment]
    return [msgspec.json.decode(f[b"record"], type=PowerRecord) for _id, f in entries]
