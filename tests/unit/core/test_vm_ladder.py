"""A VM's ladder and its estimate: the policy's, overridden by the VM's labels; a pair's
measured bandwidth in place of the hosts' figure."""

from __future__ import annotations

import msgspec
import pytest

from balancer.core.migration_model import estimate
from balancer.core.models import Link, Policy
from balancer.core.planner import plan
from balancer.core.vm_ladder import check_labels, vm_ladder
from balancer.errors import InputError
from tests.unit.core.factories import host, snapshot, vm


def test_the_policy_decides_without_labels() -> None:
    mine = vm_ladder(vm("v", "a"), Policy(allow_postcopy=True))
    assert (mine.critical, mine.downtime_ms, mine.max_downtime_ms) == (False, 300, 1000)
    assert mine.allow_postcopy
    assert mine.rungs == ("downtime", "auto-converge", "postcopy", "suspend")


@pytest.mark.parametrize(
    ("labels", "critical", "downtime", "ceiling", "rungs"),
    [
        ({"critical": "true"}, True, 300, 1000, ("downtime", "suspend")),
        ({"critical": "yes", "allow_postcopy": "true"}, True, 300, 1000, ("downtime", "suspend")),
        ({"max_downtime_ms": "120"}, False, 120, 120, ("downtime", "auto-converge", "postcopy",
                                                       "suspend")),
        ({"allow_postcopy": "false", "allow_suspend": "no"}, False, 300, 1000,
         ("downtime", "auto-converge")),
        ({"max_downtime_ms": "lots"}, False, 300, 1000, ("downtime", "auto-converge", "postcopy",
                                                         "suspend")),
    ],
)  # fmt: skip
def test_labels_override_the_policy(
    labels: dict[str, str], critical: bool, downtime: int, ceiling: int, rungs: tuple[str, ...]
) -> None:
    mine = vm_ladder(vm("v", "a", labels=labels), Policy(allow_postcopy=True))
    assert (mine.critical, mine.downtime_ms, mine.max_downtime_ms) == (critical, downtime, ceiling)
    assert mine.rungs == rungs


def test_a_critical_label_keeps_the_estimate_off_post_copy() -> None:
    hot = {"memory_mib": 4096, "dirty_rate_mib_s": 200.0}
    policy = Policy(allow_postcopy=True)
    plain = estimate(vm("v", "a", **hot), host("a"), host("b"), policy)
    critical = estimate(vm("v", "a", labels={"critical": "true"}, **hot), host("a"), host("b"),
                        policy)  # fmt: skip
    assert (plain.mode, critical.mode) == ("live-postcopy", "non-live")


def test_the_estimate_assumes_the_vms_own_downtime_limit() -> None:
    v = {"memory_mib": 4096, "dirty_rate_mib_s": 32.0}
    loose = estimate(vm("v", "a", **v), host("a"), host("b"), Policy())
    tight = estimate(vm("v", "a", labels={"max_downtime_ms": "30"}, **v), host("a"), host("b"),
                     Policy())  # fmt: skip
    assert loose.downtime_ms <= 300
    assert tight.downtime_ms <= 30
    assert tight.rounds > loose.rounds


def test_a_measured_link_replaces_the_hosts_bandwidth() -> None:
    v = vm("v", "a", memory_mib=1024, dirty_rate_mib_s=0.0)
    assumed = estimate(v, host("a"), host("b"), Policy())
    measured = estimate(v, host("a"), host("b"), Policy(), link_mib_s=32.0)
    assert assumed.duration_s == pytest.approx(1024 / 128)
    assert measured.duration_s == pytest.approx(1024 / 32)
    capped = estimate(v, host("a"), host("b"), Policy(bandwidth_mib_s=16), link_mib_s=32.0)
    assert capped.duration_s == pytest.approx(1024 / 16)


def test_the_planner_prices_a_pair_with_its_measured_link() -> None:
    hosts = [host("a"), host("b")]
    vms = [vm("v", "a", memory_mib=2048, dirty_rate_mib_s=0.0)]
    snap = snapshot(hosts, vms, objective="evacuate", evacuate_hosts=("a",))
    linked = msgspec.structs.replace(
        snap, links=(Link(source="a", dest="b", bandwidth_mib_s=64.0),)
    )
    before = plan(snap).moves[0].estimate.duration_s
    after = plan(linked).moves[0].estimate.duration_s
    assert before == pytest.approx(16.0)  # 2 GiB at the hosts' 128 MiB/s
    assert after == pytest.approx(32.0)  # at the pair's measured 64 MiB/s


@pytest.mark.parametrize("pair", ["critical=maybe", "allow_suspend=", "max_downtime_ms=0",
                                  "max_downtime_ms=1.5"])  # fmt: skip
def test_a_bad_ladder_label_is_refused(pair: str) -> None:
    key, _, value = pair.partition("=")
    with pytest.raises(InputError, match=key):
        check_labels({key: value})
    check_labels({"tier": "anything", "critical": "false", "max_downtime_ms": "400"})
