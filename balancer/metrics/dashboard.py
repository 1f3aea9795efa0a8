"""The Grafana dashboard, generated from code with Grafana's own SDK
(``grafana-foundation-sdk``, a dev dependency):

    python -m balancer.metrics.dashboard > deploy/grafana/kvm-balancer.json

The JSON is committed (provisioning-ready: the data source is the ``datasource``
variable, so it imports into any Grafana with a Prometheus data source); a test holds it
equal to this generator's output and checks what Grafana's dashboard linter checks (a
data source variable, a unit and a description on every panel, ``$__rate_interval`` in
every rate), and the whole-system test runs every query against a real Prometheus.

Each panel is data (``Chart``); only metrics of the catalogue appear in the queries.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.builders import common, heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

UID = "kvm-balancer"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
RI = "$__rate_interval"


@dataclass(frozen=True)
class Chart:
    kind: Literal["timeseries", "stat", "heatmap"]
    title: str
    description: str
    unit: str
    #: (PromQL, legend) pairs.
    queries: Sequence[tuple[str, str]]
    width: int = 8


def q(expr: str, legend: str = "") -> tuple[str, str]:
    return expr, legend


def _quantiles(metric: str, by: str = "") -> list[tuple[str, str]]:
    labels = f"le, {by}" if by else "le"
    legend = f"p{{}} {{{{{by}}}}}" if by else "p{}"
    return [
        q(f"histogram_quantile({p / 100}, sum by ({labels}) (rate({metric}_bucket[{RI}])))",
          legend.format(p))
        for p in (50, 90, 99)
    ]  # fmt: skip


ROWS: tuple[tuple[str, tuple[Chart, ...]], ...] = (
    ("Control plane", (
        Chart("stat", "Leader", "The daemon that leads (acts) now; none: no daemon leads.",
              "none", [q("kvmb_daemon_leader == 1", "{{daemon}}")], 6),
        Chart("stat", "Epoch", "The fencing epoch: every new leader increments it.", "none",
              [q("max(kvmb_daemon_epoch)")], 4),
        Chart("stat", "Last successful cycle",
              "Seconds since a daemon last completed a cycle (the freshest daemon's).", "s",
              [q("min(kvmb_daemon_last_cycle_age_seconds)")], 5),
        Chart("stat", "Paused", "1: an operator paused the daemon (balancer pause).", "bool",
              [q("max(kvmb_paused)")], 4),
        Chart("timeseries", "Leader changes",
              "Takeovers of the lead per second (a burst: daemons losing their lease).", "ops",
              [q(f"sum(rate(kvmb_daemon_leader_changes_total[{RI}]))", "takeovers")], 5),
        Chart("timeseries", "Cycle duration by phase (p90)",
              "90th percentile of the seconds a cycle spends reading the snapshot and the "
              "history, deciding and sending.", "s",
              [q("histogram_quantile(0.9, sum by (le, phase) "
                 f"(rate(kvmb_daemon_cycle_duration_seconds_bucket[{RI}])))", "{{phase}}")], 12),
        Chart("timeseries", "Cycles by outcome",
              "Cycles per second: planned, following a plan in flight, paused, idle, fenced.",
              "ops", [q(f"sum by (outcome) (rate(kvmb_daemon_cycles_total[{RI}]))",
                        "{{outcome}}")], 12),
    )),
    ("Migrations", (
        Chart("timeseries", "Migrations by result",
              "Migrations ended per second: completed, failed, fenced, cancelled.", "ops",
              [q(f"sum by (result) (rate(kvmb_migrations_total[{RI}]))", "{{result}}")]),
        Chart("timeseries", "Migrations by reason",
              "Migrations ended per second by the intent they served.", "ops",
              [q(f"sum by (reason) (rate(kvmb_migrations_total[{RI}]))", "{{reason}}")]),
        Chart("timeseries", "In flight against the slot limits",
              "Migrations running, the cluster's slots in use and its limit; the busiest "
              "host's outbound and inbound slots against theirs.", "short",
              [q("sum(kvmb_migrations_in_flight)", "in flight"),
               q("kvmb_migration_slots_used", "used {{scope}}"),
               q("kvmb_migration_slots_limit", "limit {{scope}}")]),
        Chart("timeseries", "Duration quantiles", "Duration of completed migrations.", "s",
              _quantiles("kvmb_migration_duration_seconds")),
        Chart("timeseries", "Downtime quantiles", "Guest downtime of completed migrations.",
              "s", _quantiles("kvmb_migration_downtime_seconds")),
        Chart("timeseries", "Bytes sent", "Bytes per second sent by completed migrations.",
              "Bps", [q(f"sum(rate(kvmb_migration_transferred_bytes_sum[{RI}]))", "sent")]),
        Chart("timeseries", "Ladder steps used",
              "Completed migrations per second by the rung that finished them (none: plain).",
              "ops", [q("sum by (finished_by) "
                        f"(rate(kvmb_migrations_total{{result=\"completed\"}}[{RI}]))",
                        "{{finished_by}}")]),
        Chart("timeseries", "Predicted vs actual duration",
              "Actual / predicted duration of completed migrations (1: exact; above 1: "
              "slower than planned).", "none",
              [q("histogram_quantile(0.5, sum by (le) "
                 f"(rate(kvmb_migration_prediction_ratio_bucket[{RI}])))", "median"),
               q("histogram_quantile(0.9, sum by (le) "
                 f"(rate(kvmb_migration_prediction_ratio_bucket[{RI}])))", "p90")]),
        Chart("timeseries", "Waits and retries",
              "Slot timeouts, lease refusals and task retries (busy, unavailable) per second.",
              "ops",
              [q(f"sum(rate(kvmb_migration_slot_timeouts_total[{RI}]))", "slot timeouts"),
               q(f"sum(rate(kvmb_migration_lease_busy_total[{RI}]))", "lease busy"),
               q(f"sum by (kind) (rate(kvmb_task_retries_total[{RI}]))", "retries {{kind}}")]),
        Chart("timeseries", "Slot wait (p90)", "How long moves waited for their slots.", "s",
              [q("histogram_quantile(0.9, sum by (le) "
                 f"(rate(kvmb_migration_slot_wait_seconds_bucket[{RI}])))", "p90")]),
        Chart("timeseries", "Stalled migrations",
              "Running migrations whose worker published no progress for a minute.",
              "short", [q("max(kvmb_migrations_stalled)", "stalled")]),
        Chart("stat", "Most migrations of one VM (24 h)",
              "Completed migrations of the most-moved VM in the last day (ping-pong).",
              "short", [q("max(kvmb_vm_migrations_max_24h)")]),
    )),
    ("Balance", (
        Chart("heatmap", "CPU utilization by host",
              "How many hosts run at each CPU utilization (used / capacity), over time.",
              "percentunit",
              [q("kvmb_host_cpu_used_cores / kvmb_host_cpu_capacity_cores", "{{host}}")], 12),
        Chart("heatmap", "Memory utilization by host",
              "How many hosts run at each memory utilization (used / capacity), over time.",
              "percentunit",
              [q("kvmb_host_memory_used_bytes / kvmb_host_memory_capacity_bytes",
                 "{{host}}")], 12),
        Chart("timeseries", "Spread against the balance line",
              "Standard deviation of CPU utilization over the active hosts; a balance plan "
              "runs above the line.", "percentunit",
              [q("max(kvmb_daemon_utilization_spread_ratio)", "spread"),
               q("max(kvmb_daemon_balance_line_ratio)", "balance line")], 12),
        Chart("timeseries", "Active hosts against the lower bound",
              "Active hosts, and the fewest that could hold the load.", "short",
              [q("max(kvmb_daemon_active_hosts)", "active"),
               q("max(kvmb_daemon_active_hosts_lower_bound)", "lower bound")], 12),
    )),
    ("Energy", (
        Chart("timeseries", "Hosts by power state", "Hosts on, off and booting.", "short",
              [q("kvmb_hosts_power", "{{state}}")]),
        Chart("timeseries", "Estimated power", "Estimated draw now and with every host on.",
              "watt", [q("max(kvmb_daemon_power_watts)", "now"),
                       q("max(kvmb_daemon_power_all_on_watts)", "all hosts on")]),
        Chart("timeseries", "Energy saving",
              "Power saved against every host on (the energy-saved counter's rate).", "watt",
              [q(f"sum(rate(kvmb_daemon_energy_saved_joules_total[{RI}]))", "saved")]),
        Chart("timeseries", "Power actions", "Power actions per second by action and result.",
              "ops", [q(f"sum by (action, result) (rate(kvmb_power_actions_total[{RI}]))",
                        "{{action}} {{result}}")], 12),
        Chart("timeseries", "Power actions planned",
              "Power-ons and power-offs the daemon planned, per second.", "ops",
              [q(f"sum by (action) (rate(kvmb_daemon_power_actions_planned_total[{RI}]))",
                 "{{action}}")], 12),
    )),
    ("Hosts and evacuations", (
        Chart("timeseries", "Hosts by state",
              "Hosts active, in maintenance, draining, off and failed.", "short",
              [q("kvmb_hosts", "{{state}}")]),
        Chart("stat", "Heartbeats lost", "Hosts whose agent heartbeat expired.", "short",
              [q("sum(kvmb_host_heartbeat_lost)")]),
        Chart("stat", "Hosts in maintenance", "Hosts in maintenance or draining.", "short",
              [q('sum(kvmb_hosts{state=~"maintenance|draining"})')]),
        Chart("timeseries", "VMs left on evacuated hosts",
              "VMs each host under a running evacuation still holds.", "short",
              [q("kvmb_evacuation_vms_left", "{{host}}")], 12),
        Chart("timeseries", "Unmovable VMs by reason",
              "VMs the last decision could not move, by reason.", "short",
              [q("max by (reason) (kvmb_daemon_unmovable_vms)", "{{reason}}")], 12),
        Chart("timeseries", "Moves planned by reason", "Moves the daemon planned per second.",
              "ops", [q(f"sum by (reason) (rate(kvmb_daemon_moves_planned_total[{RI}]))",
                        "{{reason}}")], 12),
        Chart("timeseries", "Store read", "Seconds the exporter's last read of the hosts "
              "took, and how old it is.", "s",
              [q("max(kvmb_store_read_seconds)", "read"),
               q("max(kvmb_store_read_age_seconds)", "age")], 12),
    )),
)  # fmt: skip

HEIGHT = {"stat": 4, "timeseries": 8, "heatmap": 9}


def _panel(c: Chart, panel_id: int) -> timeseries.Panel | stat.Panel | heatmap.Panel:
    p: timeseries.Panel | stat.Panel | heatmap.Panel
    if c.kind == "timeseries":
        p = timeseries.Panel()
    elif c.kind == "stat":
        p = stat.Panel().reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
    else:
        p = heatmap.Panel().calculate(True)
    p = p.id(panel_id).title(c.title).description(c.description).unit(c.unit).datasource(DS)
    p = p.span(c.width).height(HEIGHT[c.kind])
    for i, (expr, legend) in enumerate(c.queries):
        target = prometheus.Dataquery().expr(expr).ref_id(chr(ord("A") + i)).datasource(DS)
        p = p.with_target(target.legend_format(legend) if legend else target)
    return p


def build() -> gd.Dashboard:
    d = (
        gd.Dashboard("kvm-balancer")
        .uid(UID)
        .description("The cluster, its migrations, the control loop and its energy saving "
                     "(docs/metrics.md). Generated by balancer/metrics/dashboard.py.")
        .tags(["kvm-balancer", "generated"])
        .refresh("1m")
        .time("now-6h", "now")
        .with_variable(
            gd.DatasourceVariable("datasource").label("Data source").type("prometheus")
            .description("The Prometheus that scrapes balancer exporter and the daemons.")
        )
    )  # fmt: skip
    panel_id = 0
    for title, charts in ROWS:
        panel_id += 1
        d = d.with_row(gd.Row(title).id(panel_id))
        for chart in charts:
            panel_id += 1
            d = d.with_panel(_panel(chart, panel_id))
    return d


def _without_nulls(value: object) -> object:
    """The SDK writes unset fields as null; Grafana fills in its defaults for absent ones."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def render() -> str:
    """The dashboard's JSON, as committed."""
    text = JSONEncoder(sort_keys=True, indent=2).encode(build().build())
    return json.dumps(_without_nulls(json.loads(text)), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
