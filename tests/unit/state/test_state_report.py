"""The report encoding: round trip, the fast head, tolerance of newer agents' fields."""

from __future__ import annotations

import msgspec

from balancer.state.report import (
    HostReport,
    decode_report,
    decode_report_head,
    decode_samples,
    encode_report,
    encode_samples,
    history_samples,
    report_msgpack,
)
from tests.unit.state.factories import report


def test_round_trip() -> None:
    r = report("kvm-1", ("a", "b"))
    assert decode_report(encode_report(r)) == r


def test_head_has_what_a_snapshot_needs() -> None:
    r = report("kvm-1", ("a",))
    head = decode_report_head(encode_report(r))
    assert (head.host, head.vms, head.collected_at, head.schema) == (
        r.host,
        r.vms,
        r.collected_at,
        1,
    )


def test_fields_from_a_newer_agent_are_ignored() -> None:
    r = report("kvm-1", ("a",))
    data = msgspec.msgpack.decode(report_msgpack(r))
    data["gpu_temperature_c"] = 71
    blob = msgspec.msgpack.encode(data)
    assert decode_report(blob) == r
    assert decode_report_head(blob).host == r.host


def test_history_samples_are_compact_arrays() -> None:
    r = report("kvm-1", ("a", "b"))
    samples = history_samples(r)
    blob = encode_samples(samples)
    assert msgspec.msgpack.decode(blob)[0] == ["a", 0.5, 2048, 100, 0.0]
    assert decode_samples(blob) == samples


def test_report_is_frozen() -> None:
    assert HostReport.__struct_config__.frozen
