"""Every metric kvm-balancer exposes, written once: name, type, labels and help. The
exporter and the daemon take their help texts from here, docs/metrics.md lists the same
(a test holds the three together), the dashboard and the alert rules may use only these.

Naming (Prometheus' conventions): one ``kvmb_`` prefix; base units in the name
(``_seconds``, ``_bytes``, ``_bytes_per_second``, ``_ratio``, ``_cores``, ``_watts``,
``_joules``); counters end in ``_total``; ``_info`` for metadata. Labels take values from
fixed sets (states, results, reasons, modes, rungs, phases) or name a host or a daemon,
whose numbers are the cluster's; only ``--per-vm`` adds a ``vm`` label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "histogram", "info"]
Source = Literal["exporter", "daemon"]


@dataclass(frozen=True)
class Metric:
    #: As it appears on /metrics (counters with ``_total``, info with ``_info``).
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    source: Source = "exporter"
    #: Only with ``balancer exporter --per-vm``.
    per_vm: bool = False

    @property
    def family(self) -> str:
        """The name prometheus-client's families take (without ``_total`` / ``_info``)."""
        if self.kind == "counter":
            return self.name.removesuffix("_total")
        if self.kind == "info":
            return self.name.removesuffix("_info")
        return self.name


def _e(name: str, kind: Kind, help: str, *labels: str, per_vm: bool = False) -> Metric:
    return Metric(name, kind, help, labels, "exporter", per_vm)


def _d(name: str, kind: Kind, help: str, *labels: str) -> Metric:
    return Metric(name, kind, help, labels, "daemon")


EXPORTER: tuple[Metric, ...] = (
    _e("kvmb_build_info", "info", "The exporter's version.", "version"),
    # -- the store and the exporter itself
    _e("kvmb_store_up", "gauge", "1 if the last read of the store succeeded, else 0."),
    _e("kvmb_store_generation", "gauge", "The store's generation (reports published so far)."),
    _e("kvmb_store_read_seconds", "gauge", "Seconds the last read of the hosts took."),
    _e(
        "kvmb_store_read_age_seconds",
        "gauge",
        "Seconds since the hosts were read (the exporter reads them every --refresh-s).",
    ),
    _e(
        "kvmb_store_unreadable_hosts",
        "gauge",
        "Registered hosts whose report is missing or does not decode.",
    ),
    _e("kvmb_exporter_read_errors_total", "counter", "Scrapes that could not read the store."),
    # -- hosts
    _e("kvmb_host_cpu_used_cores", "gauge", "CPU the host's VMs and system use, in cores.", "host"),
    _e(
        "kvmb_host_cpu_capacity_cores",
        "gauge",
        "The host's CPU capacity in (reference) cores.",
        "host",
    ),
    _e("kvmb_host_memory_used_bytes", "gauge", "Memory in use on the host.", "host"),
    _e("kvmb_host_memory_capacity_bytes", "gauge", "The host's memory.", "host"),
    _e("kvmb_host_vms", "gauge", "VMs the host's last report lists.", "host"),
    _e(
        "kvmb_host_state",
        "gauge",
        "1 for the host's state (active, maintenance, draining, off, failed), 0 for the others.",
        "host",
        "state",
    ),
    _e(
        "kvmb_host_power_state",
        "gauge",
        "1 for the host's power state (on, off, booting), 0 for the others.",
        "host",
        "state",
    ),
    _e(
        "kvmb_host_heartbeat_lost",
        "gauge",
        "1 if the host's agent heartbeat expired (and the host is not off on purpose).",
        "host",
    ),
    _e(
        "kvmb_host_report_age_seconds",
        "gauge",
        "Seconds since the host's agent collected its last report.",
        "host",
    ),
    _e("kvmb_hosts", "gauge", "Hosts by state.", "state"),
    _e("kvmb_hosts_power", "gauge", "Hosts by power state (on, off, booting).", "state"),
    _e("kvmb_vms", "gauge", "VMs the hosts' last reports list."),
    # -- per VM, only with --per-vm (one series per VM: high cardinality)
    _e("kvmb_vm_cpu_used_cores", "gauge", "CPU the VM uses, in cores.", "vm", "host", per_vm=True),
    _e("kvmb_vm_memory_bytes", "gauge", "The VM's memory.", "vm", "host", per_vm=True),
    _e(
        "kvmb_vm_dirty_rate_bytes_per_second",
        "gauge",
        "How fast the VM writes its memory (last measure).",
        "vm",
        "host",
        per_vm=True,
    ),
    # -- migrations
    _e("kvmb_migrations_in_flight", "gauge", "Migrations running now, by mode.", "mode"),
    _e(
        "kvmb_migrations_total",
        "counter",
        "Ended migrations by result (completed, failed, fenced, cancelled), mode, reason and "
        "the ladder step that finished them (none: a plain migration).",
        "result",
        "mode",
        "reason",
        "finished_by",
    ),
    _e("kvmb_migration_duration_seconds", "histogram", "Duration of completed migrations.", "mode"),
    _e(
        "kvmb_migration_downtime_seconds",
        "histogram",
        "Guest downtime of completed migrations.",
        "mode",
    ),
    _e(
        "kvmb_migration_transferred_bytes",
        "histogram",
        "Bytes sent by completed migrations.",
        "mode",
    ),
    _e(
        "kvmb_migration_prediction_ratio",
        "histogram",
        "Actual / predicted duration of completed migrations (1: exact).",
        "mode",
    ),
    _e(
        "kvmb_migration_slots_limit",
        "gauge",
        "The policy's migration slots (outbound and inbound per host, cluster).",
        "scope",
    ),
    _e(
        "kvmb_migration_slots_used",
        "gauge",
        "Migration slots in use: the cluster's, and the busiest host's outbound and inbound.",
        "scope",
    ),
    _e(
        "kvmb_migration_slot_wait_seconds",
        "histogram",
        "How long moves waited for their slots (moves that got them).",
    ),
    _e(
        "kvmb_migration_slot_timeouts_total",
        "counter",
        "Moves that got no slot within the wait (their task was retried).",
    ),
    _e(
        "kvmb_migration_lease_busy_total",
        "counter",
        "Fence checks refused because another task held the VM's lease.",
    ),
    _e(
        "kvmb_task_retries_total",
        "counter",
        "Worker task retries by task and kind (busy: a lease or slot held; unavailable: "
        "Redis or a host away).",
        "task",
        "kind",
    ),
    _e(
        "kvmb_migrations_stalled",
        "gauge",
        "Running migrations that published no progress for a minute.",
    ),
    _e(
        "kvmb_migration_oldest_running_seconds",
        "gauge",
        "Age of the oldest running migration (0: none).",
    ),
    _e(
        "kvmb_vm_migrations_max_24h",
        "gauge",
        "The most completed migrations of any one VM in the last 24 hours.",
    ),
    # -- power, evacuations, pause
    _e(
        "kvmb_power_actions_total",
        "counter",
        "Power actions by action (on, off) and result.",
        "action",
        "result",
    ),
    _e("kvmb_evacuations", "gauge", "Evacuations by state (running, cancelled, done).", "state"),
    _e(
        "kvmb_evacuation_vms_left",
        "gauge",
        "VMs a host under a running evacuation still holds.",
        "host",
    ),
    _e("kvmb_paused", "gauge", "1 if an operator paused the daemon (balancer pause)."),
)

DAEMON: tuple[Metric, ...] = (
    _d("kvmb_daemon_build_info", "info", "The daemon's version and id.", "version", "daemon"),
    _d("kvmb_daemon_leader", "gauge", "1 if this daemon leads (acts), else 0.", "daemon"),
    _d("kvmb_daemon_epoch", "gauge", "The newest fencing epoch in the store."),
    _d(
        "kvmb_daemon_leader_changes_total",
        "counter",
        "Times a daemon took over the lead (the store's count).",
    ),
    _d(
        "kvmb_daemon_cycle_interval_seconds",
        "gauge",
        "Seconds between two cycles (the daemon's clock).",
    ),
    _d(
        "kvmb_daemon_last_cycle_age_seconds",
        "gauge",
        "Seconds since this daemon's last successful cycle (since its start before any).",
    ),
    _d(
        "kvmb_daemon_cycles_total",
        "counter",
        "Cycles run, by outcome (planned, following, paused, idle, fenced, error).",
        "outcome",
    ),
    _d(
        "kvmb_daemon_cycle_duration_seconds",
        "histogram",
        "Seconds a cycle took, by phase (snapshot, history, decide, send, total).",
        "phase",
    ),
    _d("kvmb_daemon_moves_planned_total", "counter", "Moves planned, by reason.", "reason"),
    _d(
        "kvmb_daemon_power_actions_planned_total",
        "counter",
        "Power actions planned, by action (on, off).",
        "action",
    ),
    _d(
        "kvmb_daemon_unmovable_vms",
        "gauge",
        "VMs the last decision could not move, by reason.",
        "reason",
    ),
    _d("kvmb_daemon_active_hosts", "gauge", "Active hosts at the last decision."),
    _d(
        "kvmb_daemon_active_hosts_lower_bound",
        "gauge",
        "Fewest hosts that could hold the load at the last decision.",
    ),
    _d(
        "kvmb_daemon_utilization_spread_ratio",
        "gauge",
        "Standard deviation of CPU utilization over the active hosts.",
    ),
    _d(
        "kvmb_daemon_balance_line_ratio",
        "gauge",
        "The spread over which a balance plan runs (ControlSettings.balance_above).",
    ),
    _d(
        "kvmb_daemon_relief_line_ratio",
        "gauge",
        "The share of a host's CPU over which relief starts (relieve_above).",
    ),
    _d("kvmb_daemon_power_watts", "gauge", "Estimated power draw of the hosts now."),
    _d("kvmb_daemon_power_all_on_watts", "gauge", "Estimated power draw with every host on."),
    _d(
        "kvmb_daemon_energy_saved_joules_total",
        "counter",
        "Energy saved against every host on, integrated over the cycles (daemon's clock).",
    ),
)

ALL: tuple[Metric, ...] = EXPORTER + DAEMON
BY_NAME: dict[str, Metric] = {m.name: m for m in ALL}


def metric(name: str) -> Metric:
    return BY_NAME[name]
