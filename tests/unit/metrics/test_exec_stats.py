"""The executor's waits and retries, counted in the store for the exporter: slot waits
into histogram buckets (and timeouts), leases held by another task, task retries."""

from __future__ import annotations

from types import SimpleNamespace

import fakeredis
import pytest

from balancer.core.models import Slots
from balancer.errors import BusyError, RetryableError
from balancer.state.exec_stats import (
    bucket_field,
    read_exec_stats,
    record_slot_wait,
    slot_wait_buckets,
)
from balancer.state.keys import DEFAULT_KEYS as KEYS
from tests.unit.executor.test_machine import Scene, order
from workers import tasks
from workers.executor.fence import Ticket
from workers.executor.simulated import SimVm


def test_buckets_are_upper_bounds_and_cumulative(client: fakeredis.FakeRedis) -> None:
    assert bucket_field(0.0) == "slot_wait:le:0.5"
    assert bucket_field(0.5) == "slot_wait:le:0.5"
    assert bucket_field(0.51) == "slot_wait:le:1.0"
    assert bucket_field(61.0) == "slot_wait:le:+Inf"
    for seconds in (0.1, 0.7, 0.8, 100.0):
        record_slot_wait(client, KEYS, seconds, got=True)
    record_slot_wait(client, KEYS, 30.0, got=False)
    stats = read_exec_stats(client, KEYS)
    buckets = dict(slot_wait_buckets(stats))
    assert (buckets["0.5"], buckets["1.0"], buckets["60.0"], buckets["+Inf"]) == (1, 3, 3, 4)
    assert stats["slot_wait:timeout"] == 1
    assert stats["slot_wait:sum"] == pytest.approx(131.6)


def test_a_move_counts_its_slot_wait_and_a_timeout() -> None:
    s = Scene(SimVm(memory_mib=256))
    s.ex.run(order(memory_mib=256), "t1")  # slots free: a wait of 0
    blocked = order(memory_mib=256, slots=Slots(outbound_per_host=1))
    s.coord.acquire_slots("b", "z", "someone", Slots(outbound_per_host=1, inbound_per_host=1))
    s.hv.add("b", "vm2", SimVm(memory_mib=256))
    with pytest.raises(BusyError, match="slot"):
        s.ex.run(order(vm="vm2", source="b", dest="a", memory_mib=256,
                       slots=blocked.slots), "t2")  # fmt: skip
    stats = read_exec_stats(s.redis, KEYS)
    assert stats["slot_wait:le:0.5"] == 1
    assert stats["slot_wait:timeout"] == 1
    assert stats["slot_wait:sum"] == pytest.approx(30.0, abs=0.5)  # the executor's wait


def test_a_lease_held_by_another_task_is_counted() -> None:
    s = Scene(SimVm(memory_mib=256))
    s.fence.check(KEYS.lease("vm1"), Ticket(id="m0", plan_id="", epoch=None, token="other"))
    with pytest.raises(BusyError):
        s.ex.run(order(memory_mib=256), "t1")
    assert read_exec_stats(s.redis, KEYS)["lease_busy"] == 1


class RetriedError(Exception):
    pass


def test_task_retries_are_counted_by_task_and_kind(
    client: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "runtime", lambda: SimpleNamespace(client=client, keys=KEYS))

    def retry(**kw: object) -> Exception:
        return RetriedError()

    task = SimpleNamespace(name="balancer.migrate", request=SimpleNamespace(retries=0),
                           retry=retry)  # fmt: skip
    for exc in (BusyError("held"), BusyError("held"), RetryableError("redis away")):
        with pytest.raises(RetriedError):
            tasks._retry(task, exc)
    stats = read_exec_stats(client, KEYS)
    assert stats == {"retry:migrate:busy": 2, "retry:migrate:unavailable": 1}
