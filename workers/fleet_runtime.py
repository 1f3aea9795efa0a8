"""A worker's runtime in fleet mode (``BALANCER_HYPERVISOR=fleet``, what ``balancer worker
--hypervisor sim`` sets): the executor drives the simulated fleet's hosts in Redis
(``FleetHypervisor``) on the fleet's clock, and powers every host with the fleet's driver.
"""

from __future__ import annotations

import redis

from balancer.fleet.clock import FleetClock
from balancer.fleet.store import FleetStore
from balancer.state.keys import Keys
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.fleet_hv import FleetHypervisor
from workers.executor.machine import Executor
from workers.executor.records import RedisRecorder
from workers.power.driver import PowerDriver
from workers.power.sim import SimPower
from workers.runtime import Runtime


def fleet_runtime(client: redis.Redis, *, slot_wait_s: float, keys: Keys | None = None) -> Runtime:
    """``RetryableError`` while no fleet has started in the store (tasks retry)."""
    keys = keys or Keys()
    clock = FleetClock.from_redis(client, keys)
    store = FleetStore(client, keys)
    store.info()
    hv = FleetHypervisor(store, clock.now)
    executor = Executor(
        hv,
        Fence(client, keys),
        Coordinator(client, keys),
        RedisRecorder(client, keys),
        clock=clock.now,
        sleep=clock.sleep,
        slot_wait_s=slot_wait_s,
    )

    def driver(host: str) -> PowerDriver:
        return SimPower(host, store, clock.now)

    return Runtime(client, hv, executor, driver, keys, clock=clock.now, sleep=clock.sleep)
