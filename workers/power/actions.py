"""Guarded power actions: off only when the host has no domain at all (asked on the live
libvirt connection, not the store); on, then wait for the host's agent heartbeat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import redis

from balancer.errors import PowerRefusedError
from balancer.state.keys import Keys
from workers.power.driver import PowerDriver


class DomainLister(Protocol):
    def domains(self, host: str) -> tuple[str, ...]: ...


def power_off(host: str, driver: PowerDriver, hv: DomainLister) -> None:
    left = hv.domains(host)
    if left:
        raise PowerRefusedError(f"{host} still has {len(left)} domain(s): {', '.join(left)}")
    driver.power_off()


def power_on(
    host: str,
    driver: PowerDriver,
    client: redis.Redis,
    keys: Keys,
    *,
    timeout_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    driver.power_on()
    deadline = clock() + timeout_s
    while clock() < deadline:
        if client.exists(keys.alive(host)):
            return
        sleep(1.0)
    raise PowerRefusedError(f"{host}: no agent heartbeat {timeout_s:.0f}s after power-on")
