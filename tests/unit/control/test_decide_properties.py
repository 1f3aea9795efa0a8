"""Properties of ``decide()`` on random clusters, intents, memories and settings
(hypothesis): no rule broken, slots kept in every wave, complete plans, the power rules
and the intents obeyed, deterministic; the memory round-trips through JSON."""

from __future__ import annotations

from collections import Counter
from typing import Literal

import msgspec
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from balancer.control.cycle import Decision, decide
from balancer.control.intents import Evacuation, Intents, Pause
from balancer.control.memory import CycleMemory, HostPower
from balancer.control.settings import ControlSettings
from balancer.control.situation import Situation
from balancer.core.models import EMPTYING_STATES, AntiAffinityRule, Power, Rule, Slots, Snapshot
from balancer.core.plan import MoveReason, PowerReason
from balancer.core.verify import violations
from tests.unit.core.factories import host, snapshot, vm
from tests.unit.core.strategies import clusters

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = 1_000_000.0
STEP = 60.0


@st.composite
def fleets(draw: st.DrawFn) -> Snapshot:
    """Compatible hosts of two sizes and power figures, VMs of random load: every intent
    has work (relief, balance, consolidation, replacement, power)."""
    n_hosts = draw(st.integers(2, 9))
    hosts = [
        host(
            f"h{i}",
            state=draw(st.sampled_from(["active"] * 6 + ["off", "off", "maintenance"])),
            cores=draw(st.sampled_from([8, 16])),
            power=Power(idle_w=draw(st.sampled_from([60.0, 100.0])), max_w=250.0),
        )
        for i in range(n_hosts)
    ]
    if all(h.state != "active" for h in hosts):
        hosts[0] = host("h0")
    on = [h.name for h in hosts if h.state in ("active", "maintenance")]
    vms = [
        vm(
            f"v{j}",
            draw(st.sampled_from(on)),
            cpu_used=draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 4.0])),
            memory_mib=draw(st.sampled_from([1024, 4096])),
            last_migrated_at=draw(st.sampled_from([None, None, None, NOW - 120.0, NOW - 1800.0])),
        )
        for j in range(draw(st.integers(0, 24)))
    ]
    rules: tuple[Rule, ...] = ()
    if len(vms) >= 2 and draw(st.booleans()):
        rules = (AntiAffinityRule(vms=(vms[0].name, vms[1].name)),)
    return snapshot(
        hosts,
        vms,
        rules,
        capacity_mode=draw(st.sampled_from(["cpu-only", "cpu+memory"])),
        headroom=draw(st.sampled_from([0.0, 0.1])),
        cooldown_s=3600.0,
        slots=Slots(
            outbound_per_host=draw(st.integers(1, 2)),
            inbound_per_host=draw(st.integers(1, 2)),
            cluster=draw(st.integers(1, 3)),
        ),
    )


@st.composite
def situations(draw: st.DrawFn) -> tuple[Situation, CycleMemory, ControlSettings]:
    snap = draw(st.one_of(clusters(), fleets()))
    # Hosts report their VMs' load and draw power by a line: relief, balance and energy
    # saving all have work.
    load: dict[str, float] = {}
    for v in snap.vms:
        load[v.host] = load.get(v.host, 0.0) + (0.0 if v.state == "shutoff" else v.cpu_used)
    reported = tuple(
        msgspec.structs.replace(
            h,
            cpu_used=load.get(h.name, 0.0),
            power=h.power if h.power and h.power.max_w == 250.0 else Power(idle_w=90, max_w=200),
        )
        for h in snap.hosts
    )
    snap = msgspec.structs.replace(snap, taken_at=NOW, hosts=reported)
    hosts = [h.name for h in snap.hosts]
    vms = [v.name for v in snap.vms]
    samples = draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    now_cpu = np.array([v.cpu_used for v in snap.vms])
    history = rng.uniform(0.0, 4.0, (len(vms), samples))
    history[:, -1] = now_cpu
    busy = frozenset(draw(st.sets(st.sampled_from(vms), max_size=3))) if vms else frozenset()
    evacuations = []
    for i, h in enumerate(draw(st.sets(st.sampled_from(hosts), max_size=2))):
        evacuations.append(
            Evacuation(
                id=f"e{i}",
                host=h,
                state=draw(st.sampled_from(["running", "cancelled", "done"])),
                created_at=NOW - 100,
                updated_at=NOW - 100,
            )
        )
    paused = Pause(at=NOW - 10) if draw(st.integers(0, 4)) == 0 else None
    intents = Intents(paused=paused, evacuations=tuple(evacuations))
    power: dict[str, HostPower] = {}
    for h in draw(st.sets(st.sampled_from(hosts), max_size=4)):
        last: Literal["on", "off"] = draw(st.sampled_from(["on", "off"]))
        at = NOW - draw(st.sampled_from([30.0, 900.0, 5000.0, 90000.0]))
        offs = tuple(
            sorted(NOW - t for t in draw(st.sets(st.sampled_from([60.0, 4000.0]), max_size=2)))
        )
        boot = at + 600.0 if last == "on" and draw(st.booleans()) else None
        power[h] = HostPower(last=last, at=at, offs=offs, booting_until=boot)
    memory = CycleMemory(
        last_consolidation_at=draw(st.sampled_from([None, NOW - 60.0, NOW - 7200.0])),
        packing=draw(st.booleans()),
        settled=draw(st.booleans()),
        power=power,
    )
    pack_to = draw(st.sampled_from([0.5, 0.75, 0.95]))
    config = ControlSettings(
        sample_every_s=STEP,
        balance_above=draw(st.sampled_from([None, 0.0001, 0.2])),
        power_on_above=draw(st.sampled_from([None, pack_to, 0.9 if pack_to < 0.9 else 1.2])),
        relieve_to=draw(st.sampled_from([0.7, 0.85, 1.0])),
        pack_to=pack_to,
        energy_saving=draw(st.booleans()),
        power_cycles_per_day=draw(st.integers(0, 3)),
        max_power_on=draw(st.integers(0, 3)),
        drain_cooling=draw(st.integers(0, 4)) == 0,
        relief_cooldown_s=draw(st.sampled_from([None, 0.0, 600.0])),
    )
    return Situation(snap, history, STEP, busy, intents), memory, config


def _check(situation: Situation, memory: CycleMemory, config: ControlSettings, d: Decision) -> None:
    snap: Snapshot = situation.snapshot
    plan = d.plan
    assert violations(snap, d.policy, plan) == []
    slots = snap.policy.slots
    by_wave: dict[int, list[tuple[str, str]]] = {}
    for m in plan.moves:
        assert isinstance(m.reason, MoveReason)
        assert m.wave >= 1
        by_wave.setdefault(m.wave, []).append((m.source, m.to))
    for moves in by_wave.values():
        assert len(moves) <= slots.cluster
        assert max(Counter(s for s, _ in moves).values()) <= slots.outbound_per_host
        assert max(Counter(t for _, t in moves).values()) <= slots.inbound_per_host
    # One move per VM; busy VMs and held hosts untouched.
    assert len({m.vm for m in plan.moves}) == len(plan.moves)
    held = situation.intents.held_hosts()
    host_of = {v.name: v.host for v in snap.vms}
    for m in plan.moves:
        assert m.vm not in situation.busy
        assert m.source not in held
        assert m.to not in held
        assert host_of[m.vm] == m.source
    assert all(a.host not in held for a in plan.power)
    # Cool-down: only evacuations move a VM that migrated within it (relief: within its
    # own, shorter one; drains: when drain_cooling says so).
    vms = {v.name: v for v in snap.vms}
    relief = snap.policy.cooldown_s
    if config.relief_cooldown_s is not None:
        relief = min(relief, config.relief_cooldown_s)
    for m in plan.moves:
        last = vms[m.vm].last_migrated_at
        if last is not None and NOW - last < snap.policy.cooldown_s:
            allowed = {MoveReason.EVACUATION}
            if config.drain_cooling:
                allowed |= {MoveReason.CONSOLIDATION, MoveReason.REPLACEMENT}
            if NOW - last >= relief:
                allowed.add(MoveReason.RELIEF)
            assert m.reason in allowed, (m, NOW - last)
    _check_power(situation, memory, config, d)
    _check_intents(situation, d)


def _check_power(
    situation: Situation, memory: CycleMemory, config: ControlSettings, d: Decision
) -> None:
    snap, plan = situation.snapshot, d.plan
    # Complete: power-on in wave 0, before any move onto the host; every move onto a
    # host that is off comes with its power-on; power-off after the last move out.
    state = {h.name: h.state for h in snap.hosts}
    on = {a.host for a in plan.power if a.action == "on"}
    assert all(a.wave == 0 for a in plan.power if a.action == "on")
    for m in plan.moves:
        assert state[m.to] == "active" or m.to in on
    for a in plan.power:
        assert isinstance(a.reason, PowerReason)
        if a.action == "off":
            assert state[a.host] == "active"
            out = [m.wave for m in plan.moves if m.source == a.host]
            assert a.wave == (max(out) if out else 0) + 1
    # The power rules, judged on the memory as it came in.
    for a in plan.power:
        rec = memory.power.get(a.host)
        if rec is None:
            if a.action == "off":
                assert config.power_cycles_per_day > 0
            continue
        booting = rec.booting_until is not None and rec.booting_until > NOW
        booting = booting and state[a.host] != "active"
        assert not booting
        if a.action == "on":
            assert not (rec.last == "off" and NOW - rec.at < config.min_off_s)
        else:
            assert not (rec.last == "on" and NOW - rec.at < config.min_on_s)
            assert len([t for t in rec.offs if NOW - t < 86400]) < config.power_cycles_per_day


def _check_intents(situation: Situation, d: Decision) -> None:
    snap, plan = situation.snapshot, d.plan
    # Paused: evacuations only.
    if situation.intents.paused is not None:
        assert set(d.intents) <= {"evacuation"}
        assert {m.reason for m in plan.moves} <= {MoveReason.EVACUATION}
    # Intents are listed highest priority first.
    order = ["evacuation", "capacity", "relief", "balance", "consolidation", "replacement", "idle"]
    ranks = [order.index(i) for i in d.intents]
    assert ranks == sorted(ranks)
    # Hosts being emptied (not held) are not given VMs.
    emptying = {h.name for h in snap.hosts if h.state in EMPTYING_STATES}
    emptying |= set(snap.policy.evacuate_hosts)
    assert all(m.to not in emptying for m in plan.moves)


@SETTINGS
@given(situations())
def test_decide_breaks_no_rule_and_keeps_the_slots(
    case: tuple[Situation, CycleMemory, ControlSettings],
) -> None:
    situation, memory, config = case
    _check(situation, memory, config, decide(situation, memory, config))


@SETTINGS
@given(situations())
def test_decide_is_deterministic_and_its_memory_round_trips(
    case: tuple[Situation, CycleMemory, ControlSettings],
) -> None:
    situation, memory, config = case
    a, b = decide(situation, memory, config), decide(situation, memory, config)
    assert msgspec.json.encode(a.plan) == msgspec.json.encode(b.plan)
    assert a.memory == b.memory
    assert (a.intents, a.summary) == (b.intents, b.summary)
    back = msgspec.json.decode(msgspec.json.encode(a.memory), type=CycleMemory)
    assert back == a.memory
    assert msgspec.json.encode(back) == msgspec.json.encode(a.memory)
