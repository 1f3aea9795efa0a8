"""A rule written once, outside the core, and registered: the planner, ``balancer plan``
on a snapshot file, ``verify`` and ``explain`` all enforce it.

The rule: VMs labelled ``pci=gpu`` run only on hosts labelled ``gpu``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

import msgspec
import pytest
from click.testing import CliRunner

from balancer.cli.main import main
from balancer.core.explain import explain
from balancer.core.filters import REGISTRY, FilterContext, Reads, register, unregister
from balancer.core.models import Host, Policy, Snapshot, Vm
from balancer.core.plan import Plan
from balancer.core.planner import plan
from balancer.core.reasons import PASS, Reason, Verdict
from balancer.core.verify import violations
from balancer.errors import PluginError
from tests.unit.core.factories import host, snapshot, vm


def _pci(guest: Vm) -> str | None:
    return guest.labels.get("pci")


def _has_gpu(dest: Host, policy: Policy) -> bool:
    return "gpu" in dest.labels


class GpuHostsOnly:
    NAME: ClassVar[str] = "gpu-hosts"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(vm=(_pci,), dest=(_has_gpu,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        if _pci(vm) == "gpu" and not _has_gpu(dest, ctx.policy):
            return Verdict.reject(Reason.CONSTRAINT, f"{vm.name} needs a GPU; {dest.name} has none")
        return PASS


@pytest.fixture
def gpu_rule() -> Iterator[None]:
    register(GpuHostsOnly())
    try:
        yield
    finally:
        unregister(GpuHostsOnly.NAME)


def _cluster(gpu_host: bool = True) -> Snapshot:
    """``h1`` is evacuated; ``h2`` is empty and large, ``h3`` busier (labelled ``gpu``)."""
    labels = {"gpu": "a100"} if gpu_host else {}
    return snapshot(
        [
            host("h1"),
            host("h2", cores=64, memory_mib=262144),
            host("h3", cores=16, cpu_used=6.0, labels=labels),
        ],
        [
            vm("train", "h1", labels={"pci": "gpu"}),
            vm("web", "h1"),
            *(vm(f"busy{i}", "h3") for i in range(6)),
        ],
        objective="evacuate",
        evacuate_hosts=("h1",),
        headroom=0.1,
    )


def _dest(result: Plan, name: str) -> str | None:
    return next((m.to for m in result.moves if m.vm == name), None)


def test_without_the_rule_the_gpu_vm_would_go_to_the_empty_host() -> None:
    """The rule changes the plan (so the tests below could fail)."""
    assert GpuHostsOnly.NAME not in REGISTRY
    assert _dest(plan(_cluster()), "train") == "h2"


@pytest.mark.usefixtures("gpu_rule")
def test_the_planner_enforces_a_registered_rule() -> None:
    snap = _cluster()
    result = plan(snap)
    assert _dest(result, "train") == "h3"
    assert _dest(result, "web") is not None
    assert violations(snap, snap.policy, result) == []


@pytest.mark.usefixtures("gpu_rule")
def test_no_gpu_host_leaves_the_vm_unmovable_saying_why() -> None:
    result = plan(_cluster(gpu_host=False))
    stuck = {u.vm: u for u in result.unmovable}
    assert _dest(result, "train") is None
    assert "constraint" in stuck["train"].detail
    assert "needs a GPU" in stuck["train"].detail


@pytest.mark.usefixtures("gpu_rule")
def test_balancer_plan_on_a_snapshot_file_enforces_it(tmp_path: Path) -> None:
    path = tmp_path / "cluster.json"
    path.write_bytes(msgspec.json.encode(_cluster()))
    r = CliRunner().invoke(main, ["plan", "--snapshot", str(path), "--json"])
    assert r.exit_code == 0, r.output
    moves = {m["vm"]: m["to"] for m in json.loads(r.stdout)["moves"]}
    assert moves["train"] == "h3"


@pytest.mark.usefixtures("gpu_rule")
def test_verify_refuses_a_plan_that_breaks_it() -> None:
    snap = _cluster()
    good = plan(snap)
    bad = msgspec.structs.replace(
        good,
        moves=tuple(
            msgspec.structs.replace(m, to="h2") if m.vm == "train" else m for m in good.moves
        ),
    )
    problems = violations(snap, snap.policy, bad)
    assert any("train → h2" in p and "needs a GPU" in p for p in problems), problems


@pytest.mark.usefixtures("gpu_rule")
def test_explain_names_the_rule() -> None:
    snap = _cluster()
    result = plan(snap)
    ex = explain(snap, snap.policy, "train", result)
    refusals = {h.host: dict(h.rejections) for h in ex.hosts}
    assert refusals["h2"]["gpu-hosts"].reason is Reason.CONSTRAINT
    assert "gpu-hosts" not in refusals["h3"]


def test_the_registry_is_as_before() -> None:
    assert GpuHostsOnly.NAME not in REGISTRY
    with pytest.raises(PluginError, match="registered already"):
        register(REGISTRY["capacity"])
