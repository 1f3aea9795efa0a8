"""A small simulated fleet written into a real Redis (no fleet process), and a manual
clock, for tests of the fleet's shared state and hypervisor."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from balancer.fleet.config import FleetConfig
from balancer.fleet.model import FleetModel
from balancer.fleet.setup import default_trace, start_fleet
from balancer.fleet.store import FleetStore
from balancer.state.keys import Keys
from workers.executor.fleet_hv import FleetHypervisor
from workers.executor.sim_vm import SimClock

START = 1000.0


@dataclass
class SmallFleet:
    url: str
    store: FleetStore
    model: FleetModel
    clock: SimClock
    hv: FleetHypervisor

    def other_hv(self) -> FleetHypervisor:
        """A second process's view: its own connection and caches, the same clock."""
        client = redis.Redis.from_url(self.url)
        return FleetHypervisor(FleetStore(client, self.store.keys), self.clock.now)

    def host_of(self, vm: str) -> str:
        host = self.store.where(vm)
        assert host is not None
        return host

    def another_host(self, vm: str) -> str:
        here = self.host_of(vm)
        return next(h.name for h in self.model.hosts if h.name != here)


def small_fleet(redis_url: str, **options: object) -> SmallFleet:
    client = redis.Redis.from_url(redis_url)
    config = FleetConfig(
        **{"hosts": 4, "vms": 12, "seed": 1, "trace": default_trace(), "start": START, **options}  # type: ignore[arg-type]
    )
    store = FleetStore(client, Keys())
    model = start_fleet(store, config.checked(), reset=True)
    clock = SimClock(START)
    return SmallFleet(redis_url, store, model, clock, FleetHypervisor(store, clock.now))
