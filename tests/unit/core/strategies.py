"""Hypothesis strategies: small but varied clusters that pass validation."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from balancer.core.models import (
    AffinityRule,
    AntiAffinityRule,
    Devices,
    Disk,
    PinRule,
    Rule,
    Slots,
    Snapshot,
)
from balancer.core.validate import check, check_rules
from balancer.errors import SnapshotError
from tests.unit.core.factories import host, snapshot, vm

CPUS = [
    ("Intel", "Skylake-Server"),
    ("Intel", "Cascadelake-Server"),
    ("Intel", "Haswell"),
    ("AMD", "EPYC-Rome"),
    ("AMD", "EPYC-Milan"),
]
FEATURES = ("avx2", "aes", "avx512f", "pcid")


@st.composite
def clusters(draw: st.DrawFn, max_hosts: int = 7, max_vms: int = 18) -> Snapshot:
    n_hosts = draw(st.integers(2, max_hosts))
    hosts = []
    for i in range(n_hosts):
        vendor, model = draw(st.sampled_from(CPUS))
        hosts.append(
            host(
                f"h{i}",
                state=draw(
                    st.sampled_from(["active"] * 6 + ["off", "maintenance", "draining", "failed"])
                ),
                vendor=vendor,
                model=model,
                features=tuple(draw(st.sets(st.sampled_from(FEATURES), min_size=1))),
                cores=draw(st.sampled_from([4, 8, 16])),
                memory_mib=draw(st.sampled_from([8192, 16384, 32768])),
                numa_nodes=draw(st.integers(1, 2)),
                storage_pools=tuple(
                    draw(st.sets(st.sampled_from(["shared", "local"]), min_size=1))
                ),
                networks=tuple(draw(st.sets(st.sampled_from(["br0", "br1"]), min_size=1))),
                qemu=draw(st.sampled_from(["8.2.0", "8.0.0", "9.0.0"])),
            )
        )
    on = [h.name for h in hosts if h.state != "off"]
    if not on:
        hosts[0] = host("h0")
        on = ["h0"]
    n_vms = draw(st.integers(0, max_vms))
    vms = []
    for j in range(n_vms):
        vendor, model = draw(st.sampled_from(CPUS))
        pool = draw(st.sampled_from(["shared", "shared", "local"]))
        vms.append(
            vm(
                f"v{j}",
                draw(st.sampled_from(on)),
                state=draw(st.sampled_from(["running"] * 5 + ["paused", "shutoff"])),
                vendor=vendor,
                model=model,
                features=tuple(draw(st.sets(st.sampled_from(FEATURES), max_size=2))),
                cpu_used=draw(st.floats(0.0, 4.0)),
                memory_mib=draw(st.sampled_from([1024, 2048, 4096, 8192])),
                dirty_rate_mib_s=draw(st.floats(0.0, 200.0)),
                disks=(Disk(pool=pool, shared=pool == "shared", bytes=1 << 30),),
                networks=(draw(st.sampled_from(["br0", "br1"])),),
                devices=Devices(hostdev=int(draw(st.integers(0, 12)) == 0)),
                numa_pinned=draw(st.booleans()),
                critical=draw(st.booleans()),
                last_migrated_at=draw(st.sampled_from([None, None, 999_000.0])),
            )
        )
    rules: list[Rule] = []
    names = [v.name for v in vms]
    if len(names) >= 2:
        for _ in range(draw(st.integers(0, 3))):
            pair = tuple(
                draw(st.lists(st.sampled_from(names), min_size=2, max_size=3, unique=True))
            )
            kind = draw(st.sampled_from(["anti", "anti", "affinity", "pin"]))
            if kind == "anti":
                rules.append(AntiAffinityRule(vms=pair, hard=draw(st.booleans())))
            elif kind == "affinity":
                rules.append(AffinityRule(vms=pair, hard=draw(st.booleans())))
            else:
                pinned = tuple(draw(st.sets(st.sampled_from([h.name for h in hosts]), min_size=1)))
                rules.append(PinRule(vm=pair[0], hosts=pinned))
            try:  # rules that contradict each other are refused at the door: none here
                check_rules(rules)
            except SnapshotError:
                rules.pop()
    objective = draw(st.sampled_from(["balance", "consolidate", "evacuate"]))
    policy: dict[str, Any] = {
        "objective": objective,
        "headroom": draw(st.sampled_from([0.0, 0.1, 0.25])),
        "allow_postcopy": draw(st.booleans()),
        "capacity_mode": draw(st.sampled_from(["cpu+memory", "cpu-only"])),
        "cooldown_s": 3600.0,
        "slots": Slots(
            outbound_per_host=draw(st.integers(1, 3)),
            inbound_per_host=draw(st.integers(1, 3)),
            cluster=draw(st.integers(1, 6)),
        ),
        "max_migrations": draw(st.sampled_from([None, None, 3])),
    }
    if objective == "evacuate":
        active = [h.name for h in hosts if h.state == "active"]
        policy["evacuate_hosts"] = (
            tuple(draw(st.sets(st.sampled_from(active), min_size=1, max_size=2))) if active else ()
        )
        if not active:
            policy["objective"] = "balance"
    snap = snapshot(hosts, vms, tuple(rules), **policy)
    check(snap)
    return snap
