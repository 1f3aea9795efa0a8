"""The power rules over the cycle's memory, and ``decide()`` keeping them: minimum on
and off times, the daily budget, boot time; capacity powered on before the relief line;
idle hosts powered off."""

from __future__ import annotations

import msgspec
import numpy as np

from balancer.control import power_rules
from balancer.control.memory import CycleMemory, HostPower
from balancer.control.settings import ControlSettings
from balancer.core.compose import Switch
from balancer.core.models import Snapshot
from balancer.core.plan import PowerReason
from tests.unit.control.factories import decide_on, power_on, settings
from tests.unit.sim.factories import snapshot, steady_history

DAEMON = ControlSettings()
NOW = 200_000.0


def _memory(**records: HostPower) -> CycleMemory:
    return CycleMemory(power=dict(records))


def test_a_host_may_not_come_back_within_its_minimum_off_time() -> None:
    m = _memory(h=HostPower(last="off", at=NOW - DAEMON.min_off_s + 1))
    assert not power_rules.may_power_on(m, "h", NOW, DAEMON)
    assert power_rules.may_power_on(m, "h", NOW + 1, DAEMON)
    assert power_rules.may_power_on(CycleMemory(), "never-switched", NOW, DAEMON)


def test_a_host_stays_on_its_minimum_on_time_and_within_its_budget() -> None:
    young = _memory(h=HostPower(last="on", at=NOW - DAEMON.min_on_s + 1))
    assert not power_rules.may_power_off(young, "h", NOW, DAEMON)
    assert power_rules.may_power_off(young, "h", NOW + 1, DAEMON)
    spent = tuple(NOW - 3600.0 * k for k in range(DAEMON.power_cycles_per_day, 0, -1))
    tired = _memory(h=HostPower(last="on", at=NOW - 7200, offs=spent))
    assert not power_rules.may_power_off(tired, "h", NOW, DAEMON)
    # A day after the oldest power-off, one more is allowed again.
    later = power_rules.advance(tired, _snap_with("h", "active", now=spent[0] + 86400), DAEMON)
    assert power_rules.may_power_off(later, "h", spent[0] + 86400, DAEMON)


def test_a_booting_host_is_neither_powered_on_again_nor_off_until_it_reports() -> None:
    m = power_rules.record(CycleMemory(), [Switch("h", "on", PowerReason.CAPACITY)], NOW, DAEMON)
    assert power_rules.booting(m) == {"h"}
    assert not power_rules.may_power_on(m, "h", NOW + 1, DAEMON)
    still_off = power_rules.advance(m, _snap_with("h", "off", now=NOW + 60), DAEMON)
    assert power_rules.booting(still_off) == {"h"}
    up = power_rules.advance(m, _snap_with("h", "active", now=NOW + 60), DAEMON)
    assert power_rules.booting(up) == frozenset()
    timed_out = power_rules.advance(m, _snap_with("h", "off", now=NOW + DAEMON.boot_s), DAEMON)
    assert power_rules.booting(timed_out) == frozenset()
    assert msgspec.json.decode(msgspec.json.encode(m), type=CycleMemory) == m


def _snap_with(name: str, state: str, *, now: float) -> Snapshot:
    snap = snapshot({1: [1.0]}, hosts=2, now=now)
    hosts = (msgspec.structs.replace(snap.hosts[0], name=name, state=state), snap.hosts[1])
    return msgspec.structs.replace(snap, hosts=hosts)


def test_capacity_is_powered_on_before_any_host_passes_the_relief_line() -> None:
    """Two G5s at 80 % now, their VMs forecast at 95 % (they ran that high in the last
    hour): no host is over the relief line, but the forecast passes 90 % of capacity."""
    snap = snapshot({1: [2.0, 2.256], 3: [2.0, 2.256]}, hosts=6, now=NOW)
    history = steady_history(snap, 60)
    history[:, 10:20] *= 0.95 / 0.8
    config = settings(sample_every_s=60.0, power_on_above=0.9, energy_saving=False)
    d = decide_on(snap, history, config=config, step_s=60.0)
    assert d.intents == ("capacity",)
    assert d.plan.moves == ()
    (on,) = d.plan.power
    assert (on.host, on.action, on.reason, on.wave) == ("host-5", "on", PowerReason.CAPACITY, 0)
    assert power_rules.booting(d.memory) == {"host-5"}
    # The next cycle, the host still boots: it is not powered on again, nor another one
    # (it counts as capacity).
    again = decide_on(snap, history, d.memory, config, step_s=60.0)
    assert power_on(again) == ()


def test_an_idle_host_is_powered_off_once_its_minimum_on_time_has_passed() -> None:
    snap = snapshot({1: [1.0], 3: [1.0]}, hosts=6, now=NOW)
    hosts = tuple(
        msgspec.structs.replace(h, state="active") if h.name == "host-5" else h for h in snap.hosts
    )
    snap = msgspec.structs.replace(snap, hosts=hosts)
    history = steady_history(snap)
    young = _memory(**{"host-5": HostPower(last="on", at=NOW - 600)})
    config = settings(min_watts_per_move=1e6, min_on_s=3600.0)  # no drain: the idle host
    assert decide_on(snap, history, young, config).plan.power == ()
    old = _memory(**{"host-5": HostPower(last="on", at=NOW - 7200)})
    d = decide_on(snap, history, old, config)
    assert d.intents == ("idle",)
    assert [(a.host, a.action, a.reason) for a in d.plan.power] == [
        ("host-5", "off", PowerReason.IDLE)
    ]
    assert d.memory.power["host-5"].offs == (NOW,)


def test_the_same_settings_serve_a_60_s_history() -> None:
    """``relieve_after_s`` is seconds: 5 samples of 60 s, or 1 of 300 s."""
    snap = snapshot({1: [2.0, 2.0, 1.5, 0.5], 3: [1.0]})
    patient = settings(relieve_after_s=300.0)
    history = np.repeat(np.array([v.cpu_used for v in snap.vms])[:, None], 60, axis=1)
    history[:4, -7] = 1.0  # 6 samples of 60 s ago host-1 was fine
    assert decide_on(snap, history, config=patient, step_s=60.0).intents == ("relief",)
    history[:4, -4] = 1.0  # 3 samples ago (180 s) it was fine: not yet 300 s over
    assert decide_on(snap, history, config=patient, step_s=60.0).intents == ()
