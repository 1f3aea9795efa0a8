"""A real Prometheus on loopback scrapes ``balancer exporter`` and a ``balancer daemon``
while the simulated fleet runs (a consolidation with power-offs, an evacuation, Celery
workers on the fleet; fleet time 20 times real time). Through Prometheus's HTTP API:
every expression of the dashboard and of the alert rules parses, every alert rule
evaluates without error, and every dashboard query returns data."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from balancer.state.migrations import MigrationRecord
from tests.integration.fleet_processes import (
    DaemonProcess,
    Fleet,
    FleetWorker,
    Process,
    balancer_argv,
    processes,
    wait_until,
)
from tests.integration.system_checks import migrations, quiet
from workers.power.actions import power_records

__all__ = ["processes"]
pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy/prometheus/kvm-balancer-rules.yml"
DASHBOARD = REPO / "deploy/grafana/kvm-balancer.json"
SETTINGS: dict[str, object] = {
    "consolidate_every_s": 300,
    "forecast_window_s": 600,
    "min_on_s": 120,
    "min_off_s": 60,
    "boot_s": 300,
}
#: What Grafana puts for ``$__rate_interval`` at a 1 s scrape interval (4 × the interval).
RATE_INTERVAL = "4s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus(Process):
    """``prometheus`` on loopback, scraping the given targets every second."""

    def __init__(self, directory: Path, targets: dict[str, int]) -> None:
        binary = shutil.which("prometheus")
        assert binary is not None, (
            "prometheus not found: install Debian's prometheus package "
            "(deploy/bootstrap/system-packages.sh base, as root)"
        )
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                for job, port in targets.items()
            ],
        }
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        super().__init__([binary, f"--config.file={path}",
                          f"--storage.tsdb.path={directory / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{self.port}"],
                         directory / "prometheus.log")  # fmt: skip
        wait_until("prometheus ready", lambda: self._ready() or not self.alive(), 60)
        assert self.alive(), self.log()

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                return True
        except OSError:
            return False

    def api(self, path: str, **params: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                doc: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:  # 400: a query that does not parse
            doc = json.load(exc)
        return doc


def dashboard_queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in doc["panels"] if p["type"] != "row"
            for t in p["targets"]]  # fmt: skip


def alert_expressions() -> list[tuple[str, str]]:
    doc = yaml.safe_load(RULES.read_text())
    return [(r["alert"], r["expr"]) for g in doc["groups"] for r in g["rules"]]


def cli(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(balancer_argv(*args, "--redis", redis_url), cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_prometheus_scrapes_the_exporter_and_the_daemon_while_the_fleet_runs(
    redis_url: str, tmp_path: Path, processes: list[Process]
) -> None:
    fleet = Fleet(tmp_path / "fleet.log", redis_url, "--hosts", "8", "--vms", "60",
                  "--placement", "spread", "--speed", "20", "--interval", "30",
                  "--bandwidth", "25", "--boot-s", "60")  # fmt: skip
    processes.append(fleet)
    processes.append(FleetWorker(tmp_path, redis_url, "w1", concurrency=3))
    daemon_port, exporter_port = free_port(), free_port()
    processes.append(DaemonProcess(tmp_path, redis_url, "d1", settings=SETTINGS,
                                   metrics_port=daemon_port))  # fmt: skip
    exporter = Process(balancer_argv("-v", "exporter", "--redis", redis_url, "--port",
                                     str(exporter_port), "--address", "127.0.0.1",
                                     "--clock", "fleet", "--refresh-s", "1"),
                       tmp_path / "exporter.log")  # fmt: skip
    processes.append(exporter)
    prom = Prometheus(tmp_path / "prom", {"kvmb-exporter": exporter_port,
                                          "kvmb-daemon": daemon_port})  # fmt: skip
    processes.append(prom)
    started = time.time()
    client = fleet.client

    def up(job: str) -> bool:
        result = prom.api("query", query=f'up{{job="{job}"}}')["data"]["result"]
        return bool(result) and result[0]["value"][1] == "1"

    wait_until("both targets up", lambda: up("kvmb-exporter") and up("kvmb-daemon"), 60,
               lambda: exporter.log()[-2000:])  # fmt: skip
    evacuate = cli(redis_url, "evacuate", "host-3", "--reason", "metrics test")
    assert evacuate.returncode == 0, evacuate.stderr

    def completed() -> list[MigrationRecord]:
        return [r for r in migrations(client) if r.result == "completed"]

    def powered_off() -> bool:
        return any(r.action == "off" for r in power_records(client, fleet.keys))

    wait_until("migrations completed", lambda: len(completed()) >= 5, 120)
    wait_until("a host powered off", powered_off, 120)
    wait_until("the moves to settle", lambda: quiet(client), 60)
    time.sleep(5.0)  # a few more scrapes and rule evaluations
    end = time.time()

    # Every alert expression parses, and Prometheus evaluated every rule without error.
    for name, expr in alert_expressions():
        answer = prom.api("query", query=expr)
        assert answer["status"] == "success", (name, answer)
    rules = [r for g in prom.api("rules")["data"]["groups"] for r in g["rules"]]
    assert {r["name"] for r in rules} == {n for n, _ in alert_expressions()}
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]

    # Every dashboard query parses and returns data over the run.
    empty = []
    for title, expr in dashboard_queries():
        query = expr.replace("$__rate_interval", RATE_INTERVAL)
        answer = prom.api("query_range", query=query, start=f"{started:.3f}", end=f"{end:.3f}",
                          step="1")  # fmt: skip
        assert answer["status"] == "success", (title, query, answer)
        if not answer["data"]["result"]:
            empty.append((title, query))
    assert empty == []

    # What the exporter and the daemon said matches the store.
    ended = prom.api("query", query='sum(kvmb_migrations_total{result="completed"})')
    assert float(ended["data"]["result"][0]["value"][1]) == len(completed())
    leader = prom.api("query", query='kvmb_daemon_leader{daemon="d1"}')["data"]["result"]
    assert leader[0]["value"][1] == "1"
