"""The alert rules (deploy/prometheus/kvm-balancer-rules.yml): promtool accepts them and
passes their tests; each alert is tested silent before its ``for:``, firing, and clear
after recovery; each has a summary, a description and a runbook section; each uses only
metrics the catalogue lists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from balancer.metrics.catalogue import BY_NAME

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "deploy/prometheus/kvm-balancer-rules.yml"
RULE_TESTS = REPO / "deploy/prometheus/tests/rules-test.yml"
RUNBOOKS = REPO / "docs/runbooks.md"
_METRIC = re.compile(r"\bkvmb_[a-z0-9_]+")


def promtool() -> str:
    path = shutil.which("promtool")
    assert path is not None, (
        "promtool not found: install Debian's prometheus package "
        "(deploy/bootstrap/system-packages.sh base, as root)"
    )
    return path


def alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def known(name: str) -> bool:
    """A catalogue metric, or a histogram's series."""
    for suffix in ("", "_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix) if suffix else name
        if base in BY_NAME and (not suffix or BY_NAME[base].kind == "histogram"):
            return True
    return False


def test_promtool_checks_and_tests_the_rules() -> None:
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True,
                           text=True, timeout=60, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in check.stdout
    run = subprocess.run([tool, "test", "rules", str(RULE_TESTS)], capture_output=True,
                         text=True, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout + run.stderr


def test_every_alert_is_tested_silent_firing_and_clear() -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text())
    times: dict[str, list[tuple[float, bool]]] = {}
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            at = _minutes(case["eval_time"])
            times.setdefault(case["alertname"], []).append((at, bool(case["exp_alerts"])))
    for alert in alerts():
        name = alert["alert"]
        seen = sorted(times.get(name, []))
        firing = [t for t, fires in seen if fires]
        assert firing, f"{name} is never tested firing"
        assert any(not f and t < firing[0] for t, f in seen), f"{name}: not tested before"
        assert any(not f and t > max(firing) for t, f in seen), f"{name}: never clears"


def _minutes(text: str) -> float:
    match = re.fullmatch(r"(\d+)([smh])", text)
    assert match, text
    return int(match[1]) * {"s": 1 / 60, "m": 1, "h": 60}[match[2]]


def test_every_alert_has_annotations_a_runbook_and_known_metrics() -> None:
    headings = {h.strip().lower() for h in re.findall(r"^## (.+)$", RUNBOOKS.read_text(), re.M)}
    for alert in alerts():
        name, notes = alert["alert"], alert["annotations"]
        assert notes["summary"], name
        assert notes["description"], name
        assert notes["runbook_url"] == f"docs/runbooks.md#{name.lower()}", name
        assert name.lower() in headings, f"docs/runbooks.md has no section {name}"
        for metric in _METRIC.findall(alert["expr"] + notes["description"]):
            assert known(metric), f"{name} uses {metric}, which nothing exports"
