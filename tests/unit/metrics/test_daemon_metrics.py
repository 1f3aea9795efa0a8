"""The daemon's control-loop metrics after its cycles: counters by outcome and reason,
phase histograms, the decision's figures (kept through cycles that decide nothing),
energy saved integrated between deciding cycles, leadership and the store's epoch."""

from __future__ import annotations

import socket

import fakeredis
import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest

from balancer.cli.main import main
from balancer.control.records import CycleRecord
from balancer.control.settings import ControlSettings
from balancer.metrics.daemon_metrics import DaemonMetrics
from balancer.state.keys import DEFAULT_KEYS as KEYS
from tests.unit.metrics.scrape_parse import value
from tests.unit.metrics.store_fixtures import FixedClock

PHASES = {"snapshot": 0.2, "history": 0.1, "decide": 0.6, "send": 0.1}


def decided(at: float, **kw: object) -> CycleRecord:
    fields: dict[str, object] = {
        "at": at, "seconds": 1.0, "epoch": 4, "phases": PHASES, "outcome": "planned",
        "moves_planned": 3, "reasons": {"consolidation": 2, "relief": 1},
        "power_off": ("h9",), "unmovable": {"passthrough-device": 2}, "active_hosts": 7,
        "active_hosts_lower_bound": 5, "spread": 0.12, "power_w": 1500.0,
        "power_all_on_w": 2000.0,
    }  # fmt: skip
    fields.update(kw)
    return CycleRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def metrics(client: fakeredis.FakeRedis) -> tuple[DaemonMetrics, FixedClock, list[bool]]:
    clock, leading = FixedClock(1000.0), [False]
    m = DaemonMetrics("d1", 60.0, ControlSettings(), clock, leading=lambda: leading[0],
                      client=client, keys=KEYS)  # fmt: skip
    return m, clock, leading


def test_cycles_update_counters_figures_and_energy(
    metrics: tuple[DaemonMetrics, FixedClock, list[bool]],
) -> None:
    m, clock, _ = metrics
    m.on_cycle(decided(1000.0))
    m.on_cycle(decided(1060.0, outcome="following", phases={"snapshot": 0.2, "history": 0.1},
                       active_hosts=0, power_w=0.0, power_all_on_w=0.0, reasons={}))  # fmt: skip
    m.on_cycle(
        decided(1120.0, unmovable={"cpu-vendor-mismatch": 1, "from-the-future": 1}, power_w=1800.0)
    )
    clock.t = 1150.0
    body = generate_latest(m.registry)
    assert value(body, "kvmb_daemon_cycles_total", outcome="planned") == 2
    assert value(body, "kvmb_daemon_cycles_total", outcome="following") == 1
    assert value(body, "kvmb_daemon_moves_planned_total", reason="consolidation") == 4
    assert value(body, "kvmb_daemon_power_actions_planned_total", action="off") == 2
    assert value(body, "kvmb_daemon_cycle_duration_seconds_count", phase="decide") == 2
    assert value(body, "kvmb_daemon_cycle_duration_seconds_count", phase="total") == 3
    assert value(body, "kvmb_daemon_cycle_duration_seconds_bucket", phase="decide",
                 le="1.0") == 2  # fmt: skip
    assert value(body, "kvmb_daemon_unmovable_vms", reason="passthrough-device") == 0
    assert value(body, "kvmb_daemon_unmovable_vms", reason="cpu-vendor-mismatch") == 1
    assert value(body, "kvmb_daemon_unmovable_vms", reason="other") == 1  # not a Reason
    assert value(body, "kvmb_daemon_unmovable_vms", reason="pinned") == 0  # there from start
    assert value(body, "kvmb_daemon_active_hosts") == 7  # not the following cycle's 0
    assert value(body, "kvmb_daemon_power_watts") == 1800
    assert value(body, "kvmb_daemon_utilization_spread_ratio") == 0.12
    # 500 W saved from 1000 to 1120 (the following cycle decided nothing): 60,000 J
    assert value(body, "kvmb_daemon_energy_saved_joules_total") == pytest.approx(60_000)
    assert value(body, "kvmb_daemon_last_cycle_age_seconds") == 30
    assert value(body, "kvmb_daemon_cycle_interval_seconds") == 60
    assert value(body, "kvmb_daemon_relief_line_ratio") == ControlSettings().relieve_above


def test_leadership_and_the_store(
    metrics: tuple[DaemonMetrics, FixedClock, list[bool]], client: fakeredis.FakeRedis
) -> None:
    m, clock, leading = metrics
    clock.t = 1200.0
    body = generate_latest(m.registry)
    assert value(body, "kvmb_daemon_leader", daemon="d1") == 0
    assert value(body, "kvmb_daemon_epoch") == 0
    assert value(body, "kvmb_daemon_last_cycle_age_seconds") == 200  # since its start
    leading[0] = True
    client.set(KEYS.epoch, 7)
    client.set(KEYS.leader_changes, 3)
    m.on_cycle(decided(1200.0, outcome="fenced"))  # lost the lead before sending
    body = generate_latest(m.registry)
    assert value(body, "kvmb_daemon_leader", daemon="d1") == 1
    assert value(body, "kvmb_daemon_epoch") == 7
    assert value(body, "kvmb_daemon_leader_changes_total") == 3
    assert value(body, "kvmb_daemon_last_cycle_age_seconds") == 200  # fenced: not a success
    assert value(body, "kvmb_daemon_build_info", daemon="d1") == 1


def test_a_metrics_port_in_use_is_bad_input() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["daemon", "--metrics-port", str(port),
                                           "--metrics-address", "127.0.0.1"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--metrics-port" in result.output
    assert f"cannot serve metrics on port {port}" in result.output
