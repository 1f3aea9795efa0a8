"""Whatever a task payload or an agent report says, the outcome is typed (issue 17's
property suite, its payload and report part): a payload decodes to an order or is refused
with ``OrderError`` naming the field, never another exception (no NaN poll interval, no
2**1024 memory, no negative timeout reaching the executor); a stored report decodes to a
head or is a ``msgspec.DecodeError``, and the reader's plausibility check answers for
any head it decodes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancer.errors import OrderError
from balancer.state.distrust import implausible, quarantined
from balancer.state.report import decode_report_head, report_msgpack
from tests.unit.state.factories import report
from workers.executor.order import (
    LadderConfig,
    MigrationOrder,
    PowerOrder,
    decode,
    decode_power,
    encode,
)

ORDER = MigrationOrder(
    id="m-1", plan_id="p-1", epoch=3, vm="web-1", source="kvm-01", dest="kvm-02",
    mode="live", memory_mib=4096, bandwidth_mib_s=100.0, ladder=LadderConfig(),
)  # fmt: skip
POWER = PowerOrder(id="p-1", host="kvm-07", action="off")
REPORT = report("kvm-01", ("vm-a", "vm-b"))

#: Any JSON value, the awkward ones included (huge integers, NaN, infinities).
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**1100), max_value=2**1100)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place in a JSON document (a key of a dict, an index of a list)."""
    out: list[tuple[str | int, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _mutated(document: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """``document`` with the value at ``path`` replaced (``None`` value: removed)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        copy = dict(document)
        if not rest and value is None:
            copy.pop(head, None)
        else:
            copy[head] = _mutated(document.get(head, {}), rest, value)
        return copy
    copy_list = list(document)
    copy_list[int(head)] = _mutated(document[int(head)], rest, value)
    return copy_list


def test_valid_orders_round_trip() -> None:
    assert decode(encode(ORDER)) == ORDER
    assert decode_power(encode(POWER)) == POWER


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        (("ladder", "poll_s"), float("nan"), "$.ladder.poll_s"),
        (("ladder", "timeout_min_s"), -1.0, "$.ladder.timeout_min_s"),
        (("memory_mib",), 2**1024, "$.memory_mib"),
        (("bandwidth_mib_s",), float("inf"), "$.bandwidth_mib_s"),
        (("vm",), "", "$.vm"),
        (("mode",), "teleport", "$.mode"),
    ],
)
def test_an_order_out_of_bounds_is_refused_naming_the_field(
    field: tuple[str, ...], value: object, named: str
) -> None:
    payload = _mutated(encode(ORDER), field, value)
    with pytest.raises(
        OrderError, match=f"not a valid MigrationOrder: .*{named.replace('$', '[$]')}"
    ):
        decode(payload)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), value=JSON)
def test_any_mutated_order_decodes_or_is_refused(data: st.DataObject, value: Any) -> None:
    for original, read, kind in (
        (ORDER, decode, MigrationOrder),
        (POWER, decode_power, PowerOrder),
    ):
        payload = encode(original)
        path = data.draw(st.sampled_from(_paths(payload) or [()]))
        outcome: object
        try:
            outcome = read(_mutated(payload, path, value))
        except OrderError as exc:
            outcome = str(exc)
        if isinstance(outcome, str):
            assert outcome.startswith(f"not a valid {kind.__name__}")
        else:
            assert isinstance(outcome, kind)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), value=JSON)
def test_any_mutated_report_decodes_or_is_a_decode_error(data: st.DataObject, value: Any) -> None:
    document = msgspec.to_builtins(REPORT)
    path = data.draw(st.sampled_from(_paths(document)))
    try:
        blob = msgspec.msgpack.encode(_mutated(document, path, value))
    except (OverflowError, TypeError):
        return  # msgpack itself cannot carry it: no agent could have stored it
    try:
        head = decode_report_head(blob)
    except msgspec.DecodeError:
        return
    why = implausible(head)
    if why is not None:
        assert quarantined(head, why).host.state == "failed"


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_damaged_report_bytes_decode_or_are_a_decode_error(data: st.DataObject) -> None:
    blob = bytearray(report_msgpack(REPORT))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(blob)))
    try:
        head = decode_report_head(bytes(blob[:cut]))
    except msgspec.DecodeError:
        return
    implausible(head)
