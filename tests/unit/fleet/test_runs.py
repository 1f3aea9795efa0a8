"""The replayed migration (pure): it ends when the pre-copy model says, the ladder's
events change its course, and a replay depends only on the run's text and the time."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancer.core.migration_model import precopy
from balancer.fleet.runs import (
    ABORTED,
    RunEvent,
    RunSpec,
    decode_run,
    encode_event,
    encode_run,
    replay,
    run_id_of,
)

MIB = 1024 * 1024


def spec(**kw: object) -> RunSpec:
    fields: dict[str, object] = {
        "id": "r1", "vm": "vm-1", "source": "host-a", "dest": "host-b", "mode": "live",
        "started": 100.0, "bandwidth_mib_s": 62.5, "memory_mib": 1740, "nonzero_mib": 1000.0,
        "dirty_mib_s": 20.0, "working_set_mib": 435.0, "max_downtime_ms": 300,
        "postcopy_allowed": True, "state": "running", **kw,
    }  # fmt: skip
    return RunSpec(**fields)  # type: ignore[arg-type]


def test_a_converging_run_ends_when_the_precopy_model_says() -> None:
    s = spec()
    model = precopy(1740, 20.0, 62.5, 300, 435.0, resident_mib=1000.0)
    assert model.converges
    before = replay(s, (), s.started + model.duration_s - 0.01)
    after = replay(s, (), s.started + model.duration_s + 0.01)
    assert not before.ended
    assert after.landed
    assert after.ended_at == pytest.approx(s.started + model.duration_s, abs=1e-6)
    assert after.completed().bytes == pytest.approx(model.sent_mib * MIB, rel=1e-6)
    assert after.completed().nonzero_bytes == 1000 * MIB


def test_a_hot_run_goes_on_until_post_copy() -> None:
    s = spec(dirty_mib_s=100.0)
    assert not replay(s, (), 100_000.0).ended
    job = replay(s, (), 200.0).job()
    assert job.dirty_rate_pages_s * job.page_size > job.bandwidth_bytes_s
    switched = replay(s, (RunEvent(500.0, "postcopy"),), 600.0)
    assert switched.landed
    assert switched.ended_at is not None
    assert 500.0 < switched.ended_at < 510.0  # the round in flight, then it ends
    assert switched.downtime_ms == 40


def test_a_suspended_guest_stops_dirtying_and_the_run_lands_paused() -> None:
    s = spec(dirty_mib_s=100.0)
    view = replay(s, (RunEvent(300.0, "suspend"),), 400.0)
    assert view.landed
    assert view.guest == "paused"


def test_a_raised_downtime_lets_a_run_finish() -> None:
    s = spec(dirty_mib_s=100.0)
    limit_ms = math.ceil(435.0 / 62.5 * 1000) + 1  # the working set fits in one stop
    assert replay(s, (RunEvent(300.0, "downtime", limit_ms),), 400.0).landed
    assert not replay(s, (RunEvent(300.0, "downtime", 1000),), 400.0).ended


def test_an_abort_ends_the_run_with_an_error_and_resumes_a_paused_guest() -> None:
    s = spec(mode="non-live", dirty_mib_s=100.0, memory_mib=100_000, nonzero_mib=100_000.0)
    during = replay(s, (), 150.0)
    assert during.guest == "paused"
    view = replay(s, (RunEvent(200.0, "abort"),), 300.0)
    assert view.ended_at == 200.0
    assert view.error == ABORTED
    assert not view.landed
    assert view.guest == "running"


def test_events_after_the_end_and_out_of_order_change_nothing_odd() -> None:
    s = spec()
    done = replay(s, (), 10_000.0)
    late = replay(s, (RunEvent(9_000.0, "abort"),), 10_000.0)
    assert late.landed
    assert late.ended_at == done.ended_at
    # an event stamped before the previous one counts as simultaneous with it
    a = replay(s, (RunEvent(110.0, "suspend"), RunEvent(105.0, "resume")), 130.0)
    b = replay(s, (RunEvent(110.0, "suspend"), RunEvent(110.0, "resume")), 130.0)
    assert a == b


def test_an_offline_run_lands_at_once_and_moves_no_memory() -> None:
    view = replay(spec(mode="offline", state="shutoff"), (), 100.001)
    assert view.landed
    assert view.guest == "shutoff"
    assert view.completed().memory_total == 0


def test_the_stored_text_round_trips() -> None:
    s = spec()
    events = (RunEvent(120.5, "downtime", 600), RunEvent(130.0, "suspend"))
    text = "\n".join([encode_run(s), *(encode_event(e) for e in events)])
    assert text.splitlines()[0] == "r1 host-a host-b"
    assert run_id_of(text) == "r1"
    assert decode_run(text.encode()) == (s, events)


@settings(max_examples=60, deadline=None)
@given(
    dirty=st.floats(0, 150),
    cuts=st.lists(st.floats(100.0, 400.0), min_size=1, max_size=6),
    suspend_at=st.none() | st.floats(100.0, 400.0),
)
def test_a_replay_depends_only_on_the_text_and_the_time(
    dirty: float, cuts: list[float], suspend_at: float | None
) -> None:
    s = spec(dirty_mib_s=dirty)
    events = () if suspend_at is None else (RunEvent(suspend_at, "suspend"),)
    final = replay(s, events, 400.0)
    for t in sorted(cuts):  # whoever replays at whatever times before, the end is one
        replay(s, events, t)
    assert replay(s, events, 400.0) == final
    if final.ended_at is not None:
        assert replay(s, events, final.ended_at + 1e-6).ended
        assert not replay(s, events, final.ended_at - 1e-3).ended
