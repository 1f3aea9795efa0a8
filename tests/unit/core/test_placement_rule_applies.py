"""A registered placement rule is asked wherever the objectives ask the rules other than
room (``Planning.apart_mask``: evacuation's and consolidation's make-room and evict
paths), also in a cluster with no anti-affinity rule; a built-in rule kind the snapshot
has none of is skipped there (``applies``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar, Literal

import numpy as np
import pytest

from balancer.core.filters import FilterContext, register, unregister
from balancer.core.filters.affinity import AffinityFilter
from balancer.core.filters.anti_affinity import AntiAffinityFilter
from balancer.core.filters.base import BoolArray, Checked, Cols, among, applies
from balancer.core.models import AntiAffinityRule, Host, Snapshot, Vm
from balancer.core.planning import Planning
from balancer.core.reasons import PASS, Reason, Verdict
from tests.unit.core.factories import host, snapshot, vm


def _db(guest: Vm) -> bool:
    return guest.labels.get("tier") == "db"


class OneDbPerHost:
    """No two VMs labelled ``tier=db`` on one host."""

    NAME: ClassVar[str] = "one-db-per-host"
    KIND: ClassVar[Literal["placement"]] = "placement"
    CHECKED: ClassVar[Checked] = "move"

    def _db_hosts(self, ctx: FilterContext, skip: Sequence[int]) -> set[int]:
        s = ctx.state
        return {s.host_of(i) for i, v in enumerate(s.vms) if _db(v) and i not in skip}

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        s = ctx.state
        here = self._db_hosts(ctx, (s.vm_index[vm.name],))
        if _db(vm) and s.host_index[dest.name] in here:
            return Verdict.reject(Reason.CONSTRAINT, f"{dest.name} runs a db VM already")
        return PASS

    def restrict(
        self, groups: Sequence[Sequence[int]], ctx: FilterContext, cols: Cols, ok: BoolArray
    ) -> None:
        for row, group in enumerate(groups):
            if any(_db(ctx.state.vms[v]) for v in group):
                ok[row] &= ~among(cols, ctx, self._db_hosts(ctx, group))


@pytest.fixture
def one_db() -> Iterator[None]:
    register(OneDbPerHost())
    try:
        yield
    finally:
        unregister(OneDbPerHost.NAME)


def _cluster(rules: tuple[AntiAffinityRule, ...] = ()) -> Snapshot:
    return snapshot(
        [host("h1"), host("h2"), host("h3")],
        [vm("db1", "h1", labels={"tier": "db"}), vm("db2", "h2", labels={"tier": "db"}),
         vm("web", "h3")],
        rules,
    )  # fmt: skip


def _banned(p: Planning, name: str) -> list[str]:
    item = p.item_of[p.state.vm_index[name]]
    return [p.state.hosts[int(h)].name for h in np.flatnonzero(p.apart_mask(item))]


@pytest.mark.usefixtures("one_db")
def test_a_registered_placement_rule_is_asked_without_any_anti_affinity_rule() -> None:
    snap = _cluster()
    p = Planning(snap, snap.policy, now=0.0)
    assert p.beyond_room
    assert _banned(p, "db1") == ["h2"]  # db2 is there (its own host is the planner's)
    assert _banned(p, "web") == []


def test_no_rule_beyond_room_in_a_cluster_without_rules() -> None:
    snap = _cluster()
    p = Planning(snap, snap.policy, now=0.0)
    assert not p.beyond_room
    assert _banned(p, "db1") == []


def test_built_in_rule_kinds_apply_only_when_the_snapshot_has_such_rules() -> None:
    bare = _cluster()
    ruled = _cluster((AntiAffinityRule(vms=("db1", "web")),))
    for snap, expected in ((bare, False), (ruled, True)):
        p = Planning(snap, snap.policy, now=0.0)
        assert applies(AntiAffinityFilter(), p.fctx) is expected
        assert applies(AffinityFilter(), p.fctx) is False
        assert p.beyond_room is expected
    p = Planning(ruled, ruled.policy, now=0.0)
    assert _banned(p, "db1") == ["h3"]
    assert applies(OneDbPerHost(), p.fctx)  # undeclared: it always applies
