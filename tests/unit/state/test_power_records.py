"""The balancer's power records in a snapshot: a host it powered off is ``off`` (a spare,
not a failure), a host it powers on stays ``off`` (booting) until its agent reports again,
and a record an agent's later report made moot is ignored."""

from __future__ import annotations

import pytest

from balancer.state.assemble import StoreContents, assemble_snapshot
from balancer.state.overrides import STALE, HostOverride
from balancer.state.power_records import (
    BOOTING,
    POWERED_OFF,
    PowerRecord,
    decode_power,
    power_state,
)
from balancer.state.report import ReportHead
from tests.unit.state.factories import host, vm


def head(name: str, at: float, vms: tuple[str, ...] = ()) -> ReportHead:
    return ReportHead(host=host(name), vms=tuple(vm(v, name) for v in vms), collected_at=at)


def states(contents: StoreContents) -> dict[str, tuple[str, str]]:
    snap = assemble_snapshot(contents, taken_at=5000.0)
    return {h.name: (h.state, h.state_reason) for h in snap.hosts}


def test_a_host_powered_off_is_off_not_failed_once_its_heartbeat_is_gone() -> None:
    c = StoreContents(
        generation=1,
        reports=[head("a", 1000.0), head("b", 1000.0)],
        alive=frozenset({"a"}),
        power={"b": PowerRecord(state="off", at=1010.0, epoch=4)},
    )
    assert states(c) == {"a": ("active", ""), "b": ("off", POWERED_OFF)}


def test_the_record_wins_while_the_last_heartbeat_lingers() -> None:
    c = StoreContents(
        generation=1,
        reports=[head("b", 1000.0)],
        alive=frozenset({"b"}),
        power={"b": PowerRecord(state="off", at=1010.0)},
    )
    assert states(c) == {"b": ("off", POWERED_OFF)}


def test_a_booting_host_is_off_until_its_agent_reports_after_the_power_on() -> None:
    record = {"b": PowerRecord(state="booting", at=2000.0)}
    before = StoreContents(
        generation=1, reports=[head("b", 1000.0)], alive=frozenset(), power=record
    )
    assert states(before) == {"b": ("off", BOOTING)}
    after = StoreContents(
        generation=2, reports=[head("b", 2030.0)], alive=frozenset({"b"}), power=record
    )
    assert states(after) == {"b": ("active", "")}


def test_a_newer_report_without_a_heartbeat_does_not_end_a_record() -> None:
    record = {"b": PowerRecord(state="off", at=2000.0)}
    c = StoreContents(generation=1, reports=[head("b", 2001.0)], alive=frozenset(), power=record)
    assert states(c) == {"b": ("off", POWERED_OFF)}


def test_without_a_record_a_silent_host_is_still_failed() -> None:
    c = StoreContents(generation=1, reports=[head("b", 1000.0)], alive=frozenset())
    assert states(c) == {"b": ("failed", STALE)}


def test_an_operators_off_wins_over_a_power_record() -> None:
    c = StoreContents(
        generation=1,
        reports=[head("b", 1000.0)],
        alive=frozenset(),
        overrides={"b": HostOverride(state="off", reason="decommissioned")},
        power={"b": PowerRecord(state="booting", at=2000.0)},
    )
    assert states(c) == {"b": ("off", "decommissioned")}


def test_a_powered_off_hosts_vms_are_shut_off() -> None:
    c = StoreContents(
        generation=1,
        reports=[head("b", 1000.0, ("v",))],
        alive=frozenset(),
        power={"b": PowerRecord(state="off", at=1010.0)},
    )
    snap = assemble_snapshot(c, taken_at=5000.0)
    assert [v.state for v in snap.vms] == ["shutoff"]


@pytest.mark.parametrize("reported_at", [999.0, 1000.0])
def test_power_state_at_or_before_the_record(reported_at: float) -> None:
    assert power_state(PowerRecord(state="off", at=1000.0), reported_at) == ("off", POWERED_OFF)


def test_malformed_records_are_skipped() -> None:
    raw = {b"a": b'{"state": "off", "at": 5}', b"b": b"junk", b"c": b'{"state": "on", "at": 1}'}
    assert decode_power(raw) == {"a": PowerRecord(state="off", at=5.0)}
