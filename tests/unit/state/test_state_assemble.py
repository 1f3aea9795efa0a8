"""From store contents to one snapshot: states, staleness, duplicates, dangling names."""

from __future__ import annotations

import logging

import pytest

from balancer.core.models import AffinityRule, AntiAffinityRule, PinRule, Policy, Rule
from balancer.state.assemble import StoreContents, assemble_snapshot, host_state
from balancer.state.overrides import STALE, HostOverride
from balancer.state.report import ReportHead
from tests.unit.state.factories import host, vm


def head(name: str, vms: tuple[str, ...] = (), at: float = 1000.0, **vm_kw: object) -> ReportHead:
    return ReportHead(
        host=host(name), vms=tuple(vm(v, name, **vm_kw) for v in vms), collected_at=at
    )


@pytest.mark.parametrize(
    ("alive", "override", "state", "reason"),
    [
        (True, None, "active", ""),
        (False, None, "failed", STALE),
        (True, "maintenance", "maintenance", "kernel"),
        (True, "draining", "draining", "kernel"),
        (True, "failed", "failed", "kernel"),
        (False, "maintenance", "failed", STALE),  # a dead host cannot be drained
        (False, "off", "off", "kernel"),  # a powered-off host is silent on purpose
        (True, "off", "off", "kernel"),
    ],
)
def test_host_state_precedence(alive: bool, override: str | None, state: str, reason: str) -> None:
    o = HostOverride(state=override, reason="kernel") if override else None  # type: ignore[arg-type]
    assert host_state(host("h"), alive, o) == (state, reason)


@pytest.mark.parametrize("override", ["maintenance", "draining"])
@pytest.mark.parametrize("power", [("off", "powered-off"), ("off", "booting")])
def test_a_host_in_maintenance_powered_off_stays_in_maintenance(
    override: str, power: tuple[str, str]
) -> None:
    """Seen on the fleet: a host in maintenance, powered off by the operator, showed
    ``off``; the daemon's evacuation of another host powered it on and filled it."""
    o = HostOverride(state=override, reason="DIMM")  # type: ignore[arg-type]
    assert host_state(host("h"), False, o, power) == (override, power[1])
    assert host_state(host("h"), True, None, power) == power  # no operator: a spare


def test_operator_override_without_reason_says_operator() -> None:
    assert host_state(host("h"), True, HostOverride(state="draining")) == ("draining", "operator")


def test_stale_host_is_failed_with_reason_and_keeps_its_vms() -> None:
    c = StoreContents(generation=7, reports=[head("a", ("v1",)), head("b", ("v2",))],
                      alive=frozenset({"a"}))  # fmt: skip
    snap = assemble_snapshot(c, taken_at=5.0)
    hosts = {h.name: h for h in snap.hosts}
    assert hosts["a"].state == "active"
    assert hosts["a"].state_reason == ""
    assert hosts["b"].labels == {}  # the reason is no label
    assert hosts["b"].state == "failed"
    assert hosts["b"].state_reason == STALE
    assert {v.name for v in snap.vms} == {"v1", "v2"}
    assert (snap.generation, snap.taken_at, snap.version) == (7, 5.0, 1)


def test_off_host_vms_are_shut_off() -> None:
    c = StoreContents(generation=1, reports=[head("a", ("v1",))], alive=frozenset(),
                      overrides={"a": HostOverride(state="off")})  # fmt: skip
    snap = assemble_snapshot(c, taken_at=0)
    assert snap.hosts[0].state == "off"
    assert snap.vms[0].state == "shutoff"


def test_duplicate_vm_keeps_the_running_one(caplog: pytest.LogCaptureFixture) -> None:
    reports = [head("src", ("v",), at=2000.0, state="shutoff"), head("dst", ("v",), at=1000.0)]
    c = StoreContents(generation=1, reports=reports, alive=frozenset({"src", "dst"}))
    with caplog.at_level(logging.INFO):
        snap = assemble_snapshot(c, taken_at=0)
    assert [(v.name, v.host, v.state) for v in snap.vms] == [("v", "dst", "running")]
    assert "reported by" in caplog.text


def test_a_running_vm_of_a_switched_off_host_counts_as_shut_off() -> None:
    """The host is off (operator): its stale report's "running" cannot be true, so the
    other host's definition (newer here) wins, not the running claim."""
    reports = [head("was", ("v",), at=1.0), head("now", ("v",), at=5.0, state="shutoff")]
    c = StoreContents(generation=1, reports=reports, alive=frozenset({"now"}),
                      overrides={"was": HostOverride(state="off")})  # fmt: skip
    [guest] = assemble_snapshot(c, taken_at=0).vms
    assert (guest.host, guest.state) == ("now", "shutoff")


def test_only_named_vms_change_and_the_rest_stay_the_same_objects() -> None:
    reports = [head("a", ("v1", "v2")), head("b", ("v3",))]
    c = StoreContents(generation=1, reports=reports, alive=frozenset({"a", "b"}),
                      migrated_at={"v2": 7.0})  # fmt: skip
    vms = {v.name: v for v in assemble_snapshot(c, taken_at=0).vms}
    assert vms["v2"].last_migrated_at == 7.0
    assert vms["v1"] is reports[0].vms[0]
    assert vms["v3"] is reports[1].vms[0]


def test_duplicate_vm_prefers_a_live_host_over_a_stale_one() -> None:
    reports = [head("stale", ("v",), at=9.0), head("live", ("v",), at=1.0)]
    c = StoreContents(generation=1, reports=reports, alive=frozenset({"live"}))
    assert assemble_snapshot(c, taken_at=0).vms[0].host == "live"


@pytest.mark.parametrize("order", [("a", "z"), ("z", "a")])
def test_two_alike_claims_go_where_the_executors_record_says(order: tuple[str, str]) -> None:
    """Neither the order of the reports nor their clocks decide: the record does."""
    reports = [head(order[0], ("v",), at=1.0), head(order[1], ("v",), at=2.0)]
    asked: list[frozenset[str]] = []

    def evidence(vms: frozenset[str]) -> dict[str, str]:
        asked.append(vms)
        return {"v": "z"}

    c = StoreContents(generation=1, reports=reports, alive=frozenset(order), evidence=evidence)
    snap = assemble_snapshot(c, taken_at=0)
    assert [(v.name, v.host) for v in snap.vms] == [("v", "z")]
    assert {h.state for h in snap.hosts} == {"active"}
    assert asked == [frozenset({"v"})]


def test_two_alike_claims_without_evidence_fail_both_hosts() -> None:
    reports = [head("a", ("v", "w"), at=5.0), head("b", ("v",), at=1.0), head("c", ("x",))]
    c = StoreContents(generation=1, reports=reports, alive=frozenset({"a", "b", "c"}))
    snap = assemble_snapshot(c, taken_at=0)
    states = {h.name: (h.state, h.state_reason) for h in snap.hosts}
    assert states == {
        "a": ("failed", "conflicting claim: VM v is also reported by b"),
        "b": ("failed", "conflicting claim: VM v is also reported by a"),
        "c": ("active", ""),
    }
    assert sorted(v.name for v in snap.vms) == ["v", "w", "x"]


def test_a_running_claim_beats_a_shut_off_one_without_asking_for_evidence() -> None:
    def evidence(vms: frozenset[str]) -> dict[str, str]:
        raise AssertionError(f"asked for {vms}")

    reports = [head("a", ("v",), state="shutoff"), head("b", ("v",))]
    c = StoreContents(generation=1, reports=reports, alive=frozenset({"a", "b"}), evidence=evidence)
    assert assemble_snapshot(c, taken_at=0).vms[0].host == "b"


def test_operator_labels_merge_and_migration_time() -> None:
    c = StoreContents(
        generation=1,
        reports=[head("a", ("v1", "v2"), labels={"tier": "web", "zone": "1"})],
        alive=frozenset({"a"}),
        vm_labels={"v1": {"tier": "db"}},
        migrated_at={"v2": 123.0},
    )
    vms = {v.name: v for v in assemble_snapshot(c, taken_at=0).vms}
    assert vms["v1"].labels == {"tier": "db", "zone": "1"}
    assert vms["v1"].last_migrated_at is None
    assert vms["v2"].labels == {"tier": "web", "zone": "1"}
    assert vms["v2"].last_migrated_at == 123.0


def test_rules_naming_vanished_vms_or_hosts_are_trimmed() -> None:
    rules: list[Rule] = [
        AffinityRule(vms=("v1", "v2", "gone")),
        AntiAffinityRule(vms=("v1", "gone")),  # one VM left: meaningless, dropped
        PinRule(vm="v1", hosts=("a", "gone-host")),
        PinRule(vm="gone", hosts=("a",)),
    ]
    c = StoreContents(generation=1, reports=[head("a", ("v1", "v2"))], alive=frozenset({"a"}),
                      rules=rules)  # fmt: skip
    assert assemble_snapshot(c, taken_at=0).rules == (
        AffinityRule(vms=("v1", "v2")),
        PinRule(vm="v1", hosts=("a",)),
    )


def test_policy_evacuating_a_forgotten_host_is_trimmed() -> None:
    policy = Policy(objective="evacuate", evacuate_hosts=("a", "gone"))
    c = StoreContents(generation=1, reports=[head("a"), head("b")], alive=frozenset({"a", "b"}),
                      policy=policy)  # fmt: skip
    assert assemble_snapshot(c, taken_at=0).policy.evacuate_hosts == ("a",)


def test_a_policy_evacuating_nothing_plans_to_balance(caplog: pytest.LogCaptureFixture) -> None:
    """Its hosts are gone or out of maintenance: the stored value must not make the store
    unreadable (issue 17: `snapshot export` and `migrate` refused after such a policy)."""
    policy = Policy(objective="evacuate", evacuate_hosts=("gone",))
    c = StoreContents(generation=1, reports=[head("a")], alive=frozenset({"a"}), policy=policy)
    with caplog.at_level(logging.WARNING):
        snap = assemble_snapshot(c, taken_at=0)
    assert (snap.policy.objective, snap.policy.evacuate_hosts) == ("balance", ())
    assert "no host is" in caplog.text
    maintenance = StoreContents(generation=1, reports=[head("a")], alive=frozenset({"a"}),
                                overrides={"a": HostOverride(state="maintenance")},
                                policy=Policy(objective="evacuate"))  # fmt: skip
    assert assemble_snapshot(maintenance, taken_at=0).policy.objective == "evacuate"


def test_empty_store_is_an_empty_snapshot() -> None:
    snap = assemble_snapshot(StoreContents(generation=0, reports=[], alive=frozenset()), taken_at=1)
    assert (snap.hosts, snap.vms, snap.rules) == ((), (), ())
