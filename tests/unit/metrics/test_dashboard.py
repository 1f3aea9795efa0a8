"""The Grafana dashboard: the committed JSON is the generator's output, and it passes
what Grafana's dashboard linter checks (a data source variable used by every panel and
query, a unit and a description on every panel, ``$__rate_interval`` in every rate);
its queries use only exported metrics (a real Prometheus runs them in
tests/integration/test_metrics_system.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from balancer.metrics.dashboard import render
from tests.unit.metrics.test_alert_rules import known

REPO = Path(__file__).resolve().parents[3]
COMMITTED = REPO / "deploy/grafana/kvm-balancer.json"
_RANGE_FN = re.compile(r"\b(rate|irate|increase|delta|idelta|deriv|changes|\w+_over_time)\(")
_RANGE = re.compile(r"\[([^\]]+)\]")


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(COMMITTED.read_text())
    return doc


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def queries() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_committed_json_is_the_generators_output() -> None:
    assert COMMITTED.read_text() == render(), (
        "deploy/grafana/kvm-balancer.json is stale: "
        "python -m balancer.metrics.dashboard > deploy/grafana/kvm-balancer.json"
    )


def test_datasource_variable_used_everywhere() -> None:
    variables = dashboard()["templating"]["list"]
    ds = [v for v in variables if v["type"] == "datasource"]
    assert [(v["name"], v["query"]) for v in ds] == [("datasource", "prometheus")]
    ref = {"type": "prometheus", "uid": "${datasource}"}
    for p in panels():
        assert p["datasource"] == ref, p["title"]
        assert all(t["datasource"] == ref for t in p["targets"]), p["title"]


def test_every_panel_has_a_unit_a_description_and_queries() -> None:
    titles = [p["title"] for p in panels()]
    assert len(titles) == len(set(titles)) >= 30
    for p in panels():
        assert p["description"].strip(), p["title"]
        assert p["fieldConfig"]["defaults"]["unit"], p["title"]
        assert p["targets"], p["title"]
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(set(ids)) == len(ids)


def test_rates_use_rate_interval_and_metrics_exist() -> None:
    rates = 0
    for expr in queries():
        if _RANGE_FN.search(expr):
            rates += 1
            ranges = _RANGE.findall(expr)
            assert ranges, expr
            assert all(r == "$__rate_interval" for r in ranges), expr
        for name in re.findall(r"\bkvmb_[a-z0-9_]+", expr):
            assert known(name), f"{expr} uses {name}, which nothing exports"
    assert rates >= 10


def test_the_issue_s_sections_are_there() -> None:
    rows = [p["title"] for p in dashboard()["panels"] if p["type"] == "row"]
    assert rows == ["Control plane", "Migrations", "Balance", "Energy", "Hosts and evacuations"]
    text = " ".join(queries())
    for metric in ("kvmb_daemon_leader", "kvmb_daemon_epoch", "kvmb_daemon_last_cycle_age",
                   "kvmb_migration_slots_limit", "kvmb_migration_downtime_seconds",
                   "kvmb_migration_prediction_ratio", "finished_by", "kvmb_host_cpu_used_cores",
                   "kvmb_daemon_balance_line_ratio", "kvmb_hosts_power",
                   "kvmb_daemon_power_watts", "kvmb_daemon_energy_saved_joules_total",
                   "kvmb_evacuation_vms_left"):  # fmt: skip
        assert metric in text, metric
    kinds = {p["type"] for p in panels()}
    assert kinds == {"stat", "timeseries", "heatmap"}
