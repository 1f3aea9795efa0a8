"""Rows for `balancer hosts` and `balancer vms`."""

from __future__ import annotations

from balancer.state.listing import host_rows, vm_rows
from balancer.state.overrides import STALE, HostOverride
from tests.unit.state.factories import report


def test_host_rows_show_state_reason_and_staleness() -> None:
    reports = [report("b", ("v2",), at=100.0), report("a", ("v1", "v3"), at=90.0)]
    rows = host_rows(reports, frozenset({"a"}), {"a": HostOverride(state="draining")}, now=130.0)
    assert [(r.name, r.state, r.reason, r.stale, r.age_s, r.vms) for r in rows] == [
        ("a", "draining", "operator", False, 40.0, 2),
        ("b", "failed", STALE, True, 30.0, 1),
    ]


def test_vm_rows_carry_their_hosts_staleness_and_rss() -> None:
    rows = vm_rows([report("a", ("z", "y"), at=10.0), report("b", ("x",), at=20.0)],
                   frozenset({"b"}), now=25.0)  # fmt: skip
    assert [(r.name, r.host, r.stale, r.age_s, r.rss_mib) for r in rows] == [
        ("x", "b", False, 5.0, 100),
        ("y", "a", True, 15.0, 100),
        ("z", "a", True, 15.0, 100),
    ]
