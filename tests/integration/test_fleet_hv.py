"""The fleet hypervisor on a real Redis, time moved by hand: migrations land once and move
the VM's one placement, the pre-copy model decides when, the ladder's steps change it,
racing processes agree, and the exactly-one-host invariant holds throughout."""

from __future__ import annotations

import threading

import pytest

from balancer.core.migration_model import precopy
from balancer.errors import MigrationAbortedError, PermanentError
from balancer.fleet.invariant import placement_problems
from balancer.fleet.runs import decode_run
from tests.integration.fleet_fixtures import SmallFleet, small_fleet
from workers.executor.fleet_hv import FleetHypervisor, FleetRun

pytestmark = pytest.mark.redis
MIB = 1024 * 1024
VM = "vm-00"


def start(f: SmallFleet, vm: str, dest: str, **kw: object) -> FleetRun:
    args: dict[str, object] = {"bandwidth_mib_s": None, "max_downtime_ms": 300,
                               "postcopy": False, "copy_storage": False, **kw}  # fmt: skip
    mode = str(args.pop("mode", "live"))
    return f.hv.start(vm, f.host_of(vm), dest, mode, **args)  # type: ignore[arg-type]


def run_until_done(
    f: SmallFleet, run: FleetRun, limit_s: float = 3600, step_s: float = 0.5
) -> float:
    deadline = f.clock.now() + limit_s
    while not run.done():
        assert f.clock.now() < deadline, "the migration did not end"
        f.clock.sleep(step_s)
    return f.clock.now()


def test_a_live_migration_lands_when_the_precopy_model_says(redis_url: str) -> None:
    f = small_fleet(redis_url)
    src, dst = f.host_of(VM), f.another_host(VM)
    run = start(f, VM, dst)
    raw = f.store.run(VM)
    assert raw is not None
    spec, _ = decode_run(raw)
    expected = precopy(spec.memory_mib, spec.dirty_mib_s, spec.bandwidth_mib_s, 300,
                       spec.working_set_mib, resident_mib=spec.nonzero_mib)  # fmt: skip
    assert expected.converges
    source_dom, dest_dom = f.hv.domain(src, VM), f.hv.domain(dst, VM)
    assert source_dom is not None
    assert source_dom.job_active
    assert dest_dom is None
    job = f.hv.job(src, VM)
    assert job is not None
    assert job.total == spec.memory_mib * MIB
    ended = run_until_done(f, run, step_s=0.25)
    assert ended - spec.started == pytest.approx(expected.duration_s, abs=0.3)
    run.result()
    assert f.hv.domain(src, VM) is None
    landed = f.hv.domain(dst, VM)
    assert landed is not None
    assert landed.state == "running"
    assert not landed.job_active
    assert VM in f.hv.domains(dst)
    assert VM not in f.hv.domains(src)
    stats = f.hv.completed(dst, VM)
    assert stats is not None
    assert stats.nonzero_bytes == pytest.approx(spec.nonzero_mib * MIB, rel=1e-3)
    assert f.store.moves_since("0-0")[0] == [(VM, src, dst)]
    assert placement_problems(f.store) == []


def test_a_hot_vm_does_not_converge_until_post_copy(redis_url: str) -> None:
    f = small_fleet(redis_url, hot_vms=12)
    src, dst = f.host_of(VM), f.another_host(VM)
    run = start(f, VM, dst, postcopy=True)
    f.clock.sleep(600)
    assert not run.done()
    job = f.hv.job(src, VM)
    assert job is not None
    assert job.iteration > 5
    assert job.dirty_rate_pages_s * job.page_size > job.bandwidth_bytes_s
    f.hv.set_max_downtime(src, VM, 300)  # within a usual budget: still no end
    f.clock.sleep(300)
    assert not run.done()
    f.hv.start_postcopy(src, VM)
    run_until_done(f, run, limit_s=120)
    run.result()
    stats = f.hv.completed(dst, VM)
    assert stats is not None
    assert stats.downtime_ms == 40
    assert f.store.where(VM) == dst


def test_a_suspended_hot_vm_lands_paused_and_resumes_there(redis_url: str) -> None:
    f = small_fleet(redis_url, hot_vms=12)
    src, dst = f.host_of(VM), f.another_host(VM)
    run = start(f, VM, dst)
    f.clock.sleep(120)
    assert not run.done()
    f.hv.suspend(src, VM)
    paused = f.hv.domain(src, VM)
    assert paused is not None
    assert paused.state == "paused"
    assert paused.job_active
    run_until_done(f, run, limit_s=600)
    run.result()
    on_dest = f.hv.domain(dst, VM)
    assert on_dest is not None
    assert on_dest.state == "paused"
    f.hv.resume(dst, VM)
    on_dest = f.hv.domain(dst, VM)
    assert on_dest is not None
    assert on_dest.state == "running"


def test_an_abort_leaves_the_vm_running_on_its_source(redis_url: str) -> None:
    f = small_fleet(redis_url, hot_vms=12)
    src, dst = f.host_of(VM), f.another_host(VM)
    run = start(f, VM, dst, mode="non-live")
    during = f.hv.domain(src, VM)
    assert during is not None
    assert during.state == "paused"
    f.hv.abort(src, VM)
    assert run.done()
    with pytest.raises(MigrationAbortedError):
        run.result()
    after = f.hv.domain(src, VM)
    assert after is not None
    assert after.state == "running"
    assert not after.job_active
    assert f.hv.completed(dst, VM) is None
    with pytest.raises(PermanentError, match="no migration job"):
        f.hv.set_max_downtime(src, VM, 500)


def test_two_processes_polling_one_run_agree(redis_url: str) -> None:
    f = small_fleet(redis_url)
    other = f.other_hv()
    src, dst = f.host_of(VM), f.another_host(VM)
    start(f, VM, dst)
    for _ in range(20):
        f.clock.sleep(0.7)
        mine, theirs = f.hv.job(src, VM), other.job(src, VM)
        assert mine == theirs
        if mine is None:
            break
    else:
        pytest.fail("the migration did not end in 14 s")
    assert other.domain(dst, VM) is not None
    assert f.hv.domain(dst, VM) is not None


def test_racing_starts_of_one_vm_leave_it_on_one_host(redis_url: str) -> None:
    f = small_fleet(redis_url, hosts=6)
    src = f.host_of(VM)
    dests = [h.name for h in f.model.hosts if h.name != src]
    hvs = [f.other_hv() for _ in dests]
    barrier = threading.Barrier(len(dests))
    started: list[tuple[str, FleetRun]] = []
    refused: list[BaseException] = []

    def go(hv: FleetHypervisor, dest: str) -> None:
        barrier.wait()
        try:
            run = hv.start(VM, src, dest, "live", bandwidth_mib_s=None, max_downtime_ms=300,
                           postcopy=False, copy_storage=False)  # fmt: skip
            started.append((dest, run))
        except MigrationAbortedError as exc:
            refused.append(exc)

    threads = [threading.Thread(target=go, args=a) for a in zip(hvs, dests, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == 1
    assert len(refused) == len(dests) - 1
    dest, run = started[0]
    run_until_done(f, run)

    landings: list[object] = []

    def settle(hv: FleetHypervisor) -> None:  # every process looks at once
        landings.append(hv.domain(dest, VM))

    threads = [threading.Thread(target=settle, args=(hv,)) for hv in hvs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert f.store.where(VM) == dest
    assert len(f.store.moves_since("0-0")[0]) == 1
    assert placement_problems(f.store) == []


def test_many_processes_landing_one_run_land_it_once(redis_url: str) -> None:
    f = small_fleet(redis_url)
    src, dst = f.host_of(VM), f.another_host(VM)
    start(f, VM, dst, mode="offline")  # lands at once
    hvs = [f.other_hv() for _ in range(8)]
    barrier = threading.Barrier(len(hvs))
    seen: list[bool] = []

    def look(hv: FleetHypervisor) -> None:
        barrier.wait()
        seen.append(hv.domain(dst, VM) is not None)

    f.clock.sleep(0.001)
    threads = [threading.Thread(target=look, args=(hv,)) for hv in hvs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [True] * len(hvs)
    assert f.store.moves_since("0-0")[0] == [(VM, src, dst)]
    assert placement_problems(f.store) == []


def test_a_migration_marks_the_domain_with_its_epoch(redis_url: str) -> None:
    f = small_fleet(redis_url)
    src, dst = f.host_of(VM), f.another_host(VM)
    run_until_done(f, start(f, VM, dst))
    f.hv.mark_migrated(dst, VM, epoch=7, migration_id="m-1", plan_id="p-1")
    mark = f.hv.mark(VM)
    assert mark is not None
    assert (mark.host, mark.epoch, mark.id) == (dst, 7, "m-1")
    with pytest.raises(PermanentError, match="not on"):
        f.hv.mark_migrated(src, VM, epoch=8, migration_id="m-2", plan_id="p-1")
    again = f.hv.mark(VM)
    assert again is not None
    assert again.epoch == 7
