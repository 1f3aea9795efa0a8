"""The real executor (state machine, ladder, leases, records) in-process on the fleet
hypervisor and a real Redis, time moved by hand; and the simulated power driver with the
guarded power actions."""

from __future__ import annotations

import pytest

from balancer.errors import PowerRefusedError, RetryableError
from balancer.fleet.facts import POOL
from balancer.fleet.invariant import placement_problems
from balancer.state.keys import Keys
from tests.integration.fleet_fixtures import SmallFleet, small_fleet
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.machine import Executor
from workers.executor.order import MigrationOrder, PowerOrder
from workers.executor.records import RedisRecorder
from workers.power import actions
from workers.power.sim import SimPower

pytestmark = pytest.mark.redis
VM = "vm-00"


def executor(f: SmallFleet) -> Executor:
    client = f.store.client
    return Executor(f.hv, Fence(client), Coordinator(client), RedisRecorder(client),
                    clock=f.clock.now, sleep=f.clock.sleep, slot_wait_s=30)  # fmt: skip


def power_off(f: SmallFleet, host: str) -> None:
    """The worker's guarded power-off (no domain left, under the fence) with the sim driver."""
    client = f.store.client
    deps = actions.PowerDeps(client, Keys(), Fence(client), f.clock.now, f.clock.sleep)
    order_ = PowerOrder(id=f"off-{host}", host=host, action="off")
    actions.power_off(order_, lambda h: SimPower(h, f.store, f.clock.now), f.hv, deps, "t")


def order(f: SmallFleet, **kw: object) -> MigrationOrder:
    facts = f.store.vm(VM)
    assert facts is not None
    fields: dict[str, object] = {"vm": VM, "source": f.host_of(VM), "dest": f.another_host(VM),
                                 "mode": "live", "memory_mib": facts.memory_mib,
                                 "shared_pools": (POOL,), **kw}  # fmt: skip
    return MigrationOrder(**fields)  # type: ignore[arg-type]


def test_a_plain_move_is_recorded_in_fleet_time(redis_url: str) -> None:
    f = small_fleet(redis_url)
    o = order(f)
    outcome = executor(f).run(o, token="t-plain")
    assert outcome.result == "completed"
    assert outcome.finished_by == ""
    assert f.store.where(VM) == o.dest
    assert outcome.finished_at is not None
    assert 1000.0 <= outcome.started_at < outcome.finished_at <= f.clock.now()
    assert outcome.actual is not None
    assert outcome.actual.nonzero_bytes is not None
    assert placement_problems(f.store) == []


@pytest.mark.parametrize(("postcopy", "rung"), [(True, "postcopy"), (False, "suspend")])
def test_a_non_converging_vm_finishes_through_the_ladder(
    redis_url: str, postcopy: bool, rung: str
) -> None:
    f = small_fleet(redis_url, hot_vms=12)
    o = order(f, allow_postcopy=postcopy)
    outcome = executor(f).run(o, token=f"t-{rung}")
    assert outcome.result == "completed"
    assert outcome.finished_by == rung
    steps = [s.step for s in outcome.steps if not s.step.startswith("skip-")]
    # auto-converge is armed at the start and taken as a rung (QEMU throttles the guest)
    assert steps == ["start", "downtime", "downtime", "auto-converge", rung, "resume"][: len(steps)]
    assert rung in steps
    on_dest = f.hv.domain(o.dest, VM)
    assert on_dest is not None
    assert on_dest.state == "running"
    assert f.store.where(VM) == o.dest


def test_power_off_is_refused_while_a_vm_is_on_the_host(redis_url: str) -> None:
    f = small_fleet(redis_url, hosts=4, vms=3, placement="spread", boot_s=60.0)
    vm = f.model.vms[0].name
    busy, empty = f.host_of(vm), "host-3"
    assert f.hv.domains(empty) == ()
    driver = SimPower(busy, f.store, f.clock.now)
    with pytest.raises(PowerRefusedError, match=vm):
        power_off(f, busy)
    with pytest.raises(PowerRefusedError, match="1 VM"):
        driver.power_off()  # the driver's own atomic check, without the action's
    power = f.store.power(busy)
    assert power is not None
    assert power.state == "on"


def test_an_off_host_is_unreachable_until_it_has_booted(redis_url: str) -> None:
    f = small_fleet(redis_url, hosts=4, vms=3, placement="spread", boot_s=60.0)
    host, vm = "host-3", f.model.vms[0].name
    driver = SimPower(host, f.store, f.clock.now)
    power_off(f, host)
    with pytest.raises(RetryableError, match="off"):
        f.hv.domains(host)
    with pytest.raises(RetryableError):
        f.hv.start(vm, f.host_of(vm), host, "live", bandwidth_mib_s=None, max_downtime_ms=300,
                   postcopy=False, copy_storage=False)  # fmt: skip
    driver.power_on()
    f.clock.sleep(59)
    with pytest.raises(RetryableError, match="booting"):
        f.hv.domains(host)
    f.clock.sleep(1)
    assert f.hv.domains(host) == ()
    run = f.hv.start(vm, f.host_of(vm), host, "live", bandwidth_mib_s=None, max_downtime_ms=300,
                     postcopy=False, copy_storage=False)  # fmt: skip
    with pytest.raises(RetryableError, match="under way"):
        driver.power_off()  # a migration into it
    while not run.done():
        f.clock.sleep(1)
    assert f.store.where(vm) == host
