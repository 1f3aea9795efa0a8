"""A migration that ended after both hosts last reported: the source still lists the VM,
the destination not yet. The executor's record says where it is, or the daemon would
send the same move again (seen on the accelerated fleet: a second "completed" record)."""

from __future__ import annotations

from collections.abc import Callable

from balancer.state.assemble import StoreContents, assemble_snapshot
from balancer.state.report import ReportHead
from tests.unit.state.factories import host, vm


def head(name: str, vms: tuple[str, ...], at: float) -> ReportHead:
    return ReportHead(host=host(name), vms=tuple(vm(v, name) for v in vms), collected_at=at)


def records(where: dict[str, str], asked: list[frozenset[str]]) -> Callable[..., dict[str, str]]:
    def evidence(vms: frozenset[str]) -> dict[str, str]:
        asked.append(vms)
        return {v: h for v, h in where.items() if v in vms}

    return evidence


def placement(
    reports: list[ReportHead], migrated_at: dict[str, float], where: dict[str, str]
) -> tuple[dict[str, str], list[frozenset[str]]]:
    asked: list[frozenset[str]] = []
    c = StoreContents(generation=1, reports=reports, alive=frozenset(r.host.name for r in reports),
                      migrated_at=migrated_at, evidence=records(where, asked))  # fmt: skip
    snap = assemble_snapshot(c, taken_at=300.0)
    assert {h.state for h in snap.hosts} == {"active"}
    return {v.name: v.host for v in snap.vms}, asked


def test_a_vm_that_left_after_both_reports_is_where_the_record_leaves_it() -> None:
    reports = [head("src", ("v", "w"), at=100.0), head("dst", ("x",), at=90.0)]
    where, asked = placement(reports, {"v": 150.0}, {"v": "dst"})
    assert where == {"v": "dst", "w": "src", "x": "dst"}
    assert asked == [frozenset({"v"})]


def test_a_destination_that_reported_since_has_the_last_word() -> None:
    """Its report, newer than the migration, does not list the VM: the VM left or was
    removed since; the record is not enough to put it back there."""
    reports = [head("src", ("v",), at=100.0), head("dst", ("x",), at=200.0)]
    assert placement(reports, {"v": 150.0}, {"v": "dst"})[0] == {"v": "src", "x": "dst"}


def test_a_report_newer_than_the_migration_asks_nothing() -> None:
    reports = [head("src", ("w",), at=200.0), head("dst", ("v", "x"), at=200.0)]
    where, asked = placement(reports, {"v": 150.0}, {"v": "elsewhere"})
    assert where == {"v": "dst", "w": "src", "x": "dst"}
    assert asked == []


def test_a_record_naming_the_source_or_no_reporting_host_moves_nothing() -> None:
    """The source: a later migration of the VM is under way from there (``claims_by_record``
    names a running migration's source). A host with no report: nowhere to put it."""
    reports = [head("src", ("v", "w"), at=100.0), head("dst", (), at=90.0)]
    where, _ = placement(reports, {"v": 150.0, "w": 150.0}, {"v": "src", "w": "gone"})
    assert where == {"v": "src", "w": "src"}


def test_both_reports_list_it_and_the_record_decides_as_before() -> None:
    reports = [head("src", ("v",), at=100.0), head("dst", ("v",), at=90.0)]
    where, asked = placement(reports, {"v": 150.0}, {"v": "dst"})
    assert where == {"v": "dst"}
    assert frozenset({"v"}) in asked
