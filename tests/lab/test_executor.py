"""The executor against real libvirt hosts and guests (the lab) and a real redis-server."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest
import redis

from balancer.errors import MigrationAbortedError, PowerRefusedError
from balancer.lab import console
from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory
from balancer.state.keys import DEFAULT_KEYS as KEYS
from workers.executor.coordination import Coordinator
from workers.executor.fence import Fence
from workers.executor.hypervisor import MIGRATION_NAMESPACE
from workers.executor.libvirt_hv import LibvirtHypervisor
from workers.executor.machine import Executor
from workers.executor.order import LadderConfig, MigrationOrder, PowerOrder
from workers.executor.records import Actual, MigrationRecord, RedisRecorder
from workers.power.actions import PowerDeps, power_off

pytestmark = pytest.mark.lab


def executor(hv: LibvirtHypervisor, client: redis.Redis) -> Executor:
    return Executor(hv, Fence(client), Coordinator(client), RedisRecorder(client),
                    clock=time.time, sleep=time.sleep)  # fmt: skip


def actual(record: MigrationRecord) -> Actual:
    assert record.actual is not None, record
    return record.actual


def lease_holder(client: redis.Redis, vm: str) -> str | None:
    return Fence(client).holder(KEYS.lease(vm))


def where(lab: Lab, name: str) -> dict[str, tuple[int, bool]]:
    """host → (libvirt state, persistent) for every lab host that knows the guest."""
    out = {}
    for host in ("lab-a", "lab-b"):
        names = {d.name(): d for d in lab.conn(host).listAllDomains(0)}
        if name in names:
            out[host] = (names[name].state()[0], bool(names[name].isPersistent()))
    return out


def assert_counter_never_stopped(log: Path, before: int, after_at_least: int) -> None:
    """The counter went on after the migration and never went down (no reboot)."""
    counters = [t.counter for t in console.ticks(log)]
    assert counters == sorted(counters), counters
    assert counters[-1] >= after_at_least > before


def test_live_migration_of_a_guest_dirtying_8_mib_s(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", memory_mib=160, dirty_rate_mib_s=8, working_set_mib=64)
    before = guest.counter()
    order = MigrationOrder(
        id="m-live", plan_id="p-lab", epoch=4, vm=guest.name, source="lab-a", dest="lab-b",
        mode="live", memory_mib=160, bandwidth_mib_s=64,
    )  # fmt: skip
    redis_client.set(KEYS.epoch, 4)
    out = executor(hv, redis_client).run(order, token="t-live")
    after = guest.wait_for_counter(above=guest.counter() + 4, timeout=60).counter

    assert out.result == "completed", out
    assert out.finished_by == ""
    downtime, sent = actual(out).downtime_ms, actual(out).bytes
    assert downtime is not None
    assert downtime < 1000
    assert sent is not None
    assert sent > 100 * 2**20
    assert where(lab, guest.name) == {"lab-b": (1, True)}  # running, persistent, lab-b only
    assert_counter_never_stopped(guest.console_log, before, after)
    assert lease_holder(redis_client, guest.name) is None
    dom = lab.conn("lab-b").lookupByName(guest.name)
    for flags in (libvirt.VIR_DOMAIN_AFFECT_LIVE, libvirt.VIR_DOMAIN_AFFECT_CONFIG):
        mark = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, MIGRATION_NAMESPACE, flags)
        assert ET.fromstring(mark).attrib == {"epoch": "4", "id": "m-live", "plan": "p-lab"}


def test_nonconverging_guest_plain_live_aborts_and_the_ladder_finishes(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", memory_mib=192, dirty_rate_mib_s=48, working_set_mib=112)
    ex = executor(hv, redis_client)
    plain = MigrationOrder(
        vm=guest.name, source="lab-a", dest="lab-b", mode="live", memory_mib=192,
        bandwidth_mib_s=16, ladder=LadderConfig(rungs=(), timeout_min_s=30, timeout_s_per_gib=0),
    )  # fmt: skip
    with pytest.raises(MigrationAbortedError, match="timeout"):
        ex.run(plain, token="t-plain")
    # Abort on timeout: the guest stays on its source, running and persistent, and ticks.
    assert where(lab, guest.name) == {"lab-a": (1, True)}
    at = guest.counter()
    guest.wait_for_counter(above=at + 4, timeout=60)

    ladder = MigrationOrder(
        vm=guest.name, source="lab-a", dest="lab-b", mode="live", memory_mib=192,
        bandwidth_mib_s=16, ladder=LadderConfig(step_grace_s=5, stall_s=10, timeout_min_s=240),
    )  # fmt: skip
    out = ex.run(ladder, token="t-ladder")
    steps = [s.step for s in out.steps]
    assert out.result == "completed", out
    assert out.finished_by == "suspend", steps
    assert steps.count("downtime") == 2
    # QEMU's own auto-converge throttled the guest before suspend was tried (the only lab
    # test of that rung on real QEMU: the post-copy tests leave it out).
    assert "auto-converge" in steps
    assert steps.index("auto-converge") < steps.index("suspend")
    suspend = next(s for s in out.steps if s.step == "suspend")
    assert "bandwidth" in suspend.reason or "shrinking" in suspend.reason, suspend
    assert actual(out).duration_s < 240
    assert where(lab, guest.name) == {"lab-b": (1, True)}
    at = guest.counter()
    guest.wait_for_counter(above=at + 4, timeout=60)
    recorded = RedisRecorder(redis_client).outcomes()
    assert [o.result for o in recorded] == ["failed", "completed"]


def test_offline_migration_of_a_shut_off_guest(
    lab: Lab, lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", start=False)
    order = MigrationOrder(
        vm=guest.name, source="lab-a", dest="lab-b", mode="offline", memory_mib=192,
        expected_state="shutoff",
    )  # fmt: skip
    out = executor(hv, redis_client).run(order, token="t-off")
    assert out.result == "completed", out
    assert where(lab, guest.name) == {"lab-b": (5, True)}  # shut off, persistent, lab-b only


class NeverCalled:
    NAME = "never"

    def power_on(self) -> None:
        raise AssertionError("power_on called")

    def power_off(self) -> None:
        raise AssertionError("power_off called while a domain exists")


def test_power_off_refused_while_a_domain_is_defined(
    lab_guests: GuestFactory, hv: LibvirtHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-b", start=False)  # defined, not running: still refused
    deps = PowerDeps(redis_client, KEYS, Fence(redis_client), time.time, time.sleep)
    order = PowerOrder(id="off-1", host="lab-b", action="off")
    with pytest.raises(PowerRefusedError, match=guest.name):
        power_off(order, lambda _host: NeverCalled(), hv, deps, "t-off")
