"""The ladder's post-copy rung on real libvirt hosts: a guest dirtying faster than the
bandwidth cap is finished by post-copy when allowed, never when the VM is critical."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from balancer.core.migration_model import Mode
from balancer.lab.lab import Lab
from balancer.lab.pytest_plugin import GuestFactory
from tests.lab.test_executor import actual, executor, where
from workers.executor.libvirt_calls import ThreadRun
from workers.executor.libvirt_hv import LibvirtHypervisor
from workers.executor.offline_copy import OfflineCopy
from workers.executor.order import LadderConfig, MigrationOrder

pytestmark = pytest.mark.lab


class SpyHypervisor(LibvirtHypervisor):
    """The real libvirt hypervisor, noting whether post-copy was enabled and started."""

    def __init__(self, uris: dict[str, str]) -> None:
        super().__init__(uris)
        self.postcopy_enabled: list[bool] = []
        self.postcopy_started = 0

    def start(
        self, vm: str, source: str, dest: str, mode: Mode, **kw: Any
    ) -> ThreadRun | OfflineCopy:
        self.postcopy_enabled.append(bool(kw["postcopy"]))
        return super().start(vm, source, dest, mode, **kw)

    def start_postcopy(self, host: str, vm: str) -> None:
        self.postcopy_started += 1
        super().start_postcopy(host, vm)


@pytest.fixture
def spy(lab: Lab) -> Iterator[SpyHypervisor]:
    the_hv = SpyHypervisor({h: lab.host(h).uri for h in ("lab-a", "lab-b")})
    yield the_hv
    the_hv.close()


def busy_order(name: str, critical: bool) -> MigrationOrder:
    return MigrationOrder(
        vm=name, source="lab-a", dest="lab-b", mode="live", memory_mib=192,
        bandwidth_mib_s=16, allow_postcopy=True, critical=critical,
        # No auto-converge rung: on this link QEMU would take a minute raising its throttle
        # before post-copy or suspend (tests/lab/test_executor.py covers that rung).
        ladder=LadderConfig(step_grace_s=5, stall_s=10, timeout_min_s=240,
                            rungs=("downtime", "postcopy", "suspend")),
    )  # fmt: skip


def test_postcopy_rung_finishes_a_noncritical_guest_dirtying_faster_than_the_link(
    lab: Lab, lab_guests: GuestFactory, spy: SpyHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", memory_mib=192, dirty_rate_mib_s=48, working_set_mib=112)
    out = executor(spy, redis_client).run(busy_order(guest.name, False), token="t-pc")
    steps = [s.step for s in out.steps]

    assert out.result == "completed", out
    assert out.finished_by == "postcopy", steps
    assert steps.count("downtime") == 2
    assert "suspend" not in steps
    assert "skip-postcopy" not in steps
    postcopy = next(s for s in out.steps if s.step == "postcopy")
    assert "bandwidth" in postcopy.reason or "shrinking" in postcopy.reason, postcopy
    assert spy.postcopy_enabled == [True]
    assert spy.postcopy_started == 1
    assert actual(out).duration_s < 240
    assert where(lab, guest.name) == {"lab-b": (1, True)}  # running, persistent, lab-b only
    at = guest.counter()
    guest.wait_for_counter(above=at + 4, timeout=60)  # the guest goes on, on lab-b


def test_a_critical_guest_is_never_switched_to_postcopy(
    lab: Lab, lab_guests: GuestFactory, spy: SpyHypervisor, redis_client: redis.Redis
) -> None:
    guest = lab_guests.add("lab-a", memory_mib=192, dirty_rate_mib_s=48, working_set_mib=112)
    out = executor(spy, redis_client).run(busy_order(guest.name, True), token="t-crit")
    steps = [s.step for s in out.steps]

    assert out.result == "completed", out
    assert out.finished_by == "suspend", steps
    assert "postcopy" not in steps
    skip = next(s for s in out.steps if s.step == "skip-postcopy")
    assert "critical" in skip.reason
    assert spy.postcopy_enabled == [False]  # not even enabled at the start
    assert spy.postcopy_started == 0
    assert where(lab, guest.name) == {"lab-b": (1, True)}
    at = guest.counter()
    guest.wait_for_counter(above=at + 4, timeout=60)
