"""The Redis key schema, version 1 (docs/state-schema.md): every key name in one place.

All keys start with a prefix (default ``kvmb``) so one Redis can serve several clusters
and an ACL can confine a user to them (``~kvmb:*``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Version of the key schema and of the report encoding; stored under ``<prefix>:schema``.
SCHEMA_VERSION = 1
DEFAULT_PREFIX = "kvmb"

# How long the expiring keys live: each lifetime defined here once.
#: A lease (``lease``, ``power_lease``) and a held migration slot (``slots_*``): renewed
#: on every watch poll; a worker that dies lets go after this long.
LEASE_TTL_S = 30.0
#: ``progress``: after a migration's last poll.
PROGRESS_TTL_S = 60
#: A plan's ``plan_results`` and ``plan_waves`` after their last write, and an entry of
#: ``cancelled``: a week.
PLAN_KEEP_S = 7 * 86400


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    def every(self, part: str = "") -> str:
        """The pattern (ACLs) of every key of the prefix, or of its ``part`` (``exec``,
        ``ctl``, ``sim``)."""
        return f"{self.prefix}:{part}:*" if part else f"{self.prefix}:*"

    @property
    def schema(self) -> str:
        """STRING: the schema version, ``"1"``."""
        return f"{self.prefix}:schema"

    @property
    def generation(self) -> str:
        """STRING: an integer incremented by every published report."""
        return f"{self.prefix}:generation"

    @property
    def hosts(self) -> str:
        """SET: every host that ever reported (until an operator forgets it)."""
        return f"{self.prefix}:hosts"

    def report(self, host: str) -> str:
        """STRING: the host's latest report, msgpack (no expiry: a dead host stays known)."""
        return f"{self.prefix}:host:{host}:report"

    def alive(self, host: str) -> str:
        """STRING with a TTL: the heartbeat; gone means the host is stale."""
        return f"{self.prefix}:host:{host}:alive"

    def history(self, host: str) -> str:
        """STREAM, MAXLEN-bounded: per-VM samples of the host's last reports."""
        return f"{self.prefix}:host:{host}:history"

    @property
    def host_state(self) -> str:
        """HASH host → JSON ``HostOverride``: operator states (maintenance, draining, ...)."""
        return f"{self.prefix}:op:host-state"

    @property
    def rules(self) -> str:
        """HASH rule id → JSON rule (affinity, anti-affinity, pin)."""
        return f"{self.prefix}:op:rules"

    @property
    def policy(self) -> str:
        """STRING: JSON ``Policy`` (absent: the defaults)."""
        return f"{self.prefix}:op:policy"

    @property
    def vm_labels(self) -> str:
        """HASH VM → JSON object of labels, merged over the labels the agent reports."""
        return f"{self.prefix}:op:vm-labels"

    @property
    def vm_migrated(self) -> str:
        """SORTED SET VM → epoch seconds of its last migration (the executor); a snapshot
        reads only the entries within the policy's cool-down."""
        return f"{self.prefix}:vm-migrated"

    @property
    def links(self) -> str:
        """HASH ``<source> <dest>`` → JSON ``Link``: the migration bandwidth measured
        between two hosts (the executor's completed migrations, smoothed)."""
        return f"{self.prefix}:links"

    def vm_resident(self, host: str) -> str:
        """HASH VM → MiB of non-zero memory its last migration measured, for the VMs on
        ``host`` (the executor writes it, the host's agent puts it in its report)."""
        return f"{self.prefix}:host:{host}:vm-resident-mib"

    # -- the executor ----------------------------------------------------------------

    def lease(self, vm: str) -> str:
        """STRING ``<token> <epoch>`` with a TTL: the task migrating ``vm`` now (epoch
        ``-`` for an operator's move, which no leader fences)."""
        return f"{self.prefix}:exec:lease:{vm}"

    def power_lease(self, host: str) -> str:
        """STRING ``<token> <epoch>`` with a TTL: the task powering ``host`` on or off."""
        return f"{self.prefix}:exec:power-lease:{host}"

    @property
    def cancelled(self) -> str:
        """SORTED SET id → time cancelled: migration, power-task and plan ids the fence
        refuses (a move or power action of a cancelled plan is refused too); entries older
        than a week are pruned."""
        return f"{self.prefix}:exec:cancelled"

    def plan_waves(self, plan_id: str) -> str:
        """HASH wave number → JSON list of the wave's task specs (task, id, priority,
        order), plus ``waves`` and ``workflow``: a sent plan's later waves, queued by the
        worker that closes the wave before (a week)."""
        return f"{self.prefix}:exec:plan:{plan_id}:waves"

    def plan_results(self, plan_id: str) -> str:
        """HASH migration or power-task id → result (``running``, ``completed``,
        ``failed``, ``fenced``, ``cancelled``) of one plan's tasks; expires a week after
        its last write."""
        return f"{self.prefix}:exec:plan:{plan_id}:results"

    def slots_out(self, host: str) -> str:
        """SORTED SET token → expiry (s): outbound migrations of ``host``."""
        return f"{self.prefix}:exec:slots:out:{host}"

    def slots_in(self, host: str) -> str:
        """SORTED SET token → expiry (s): inbound migrations of ``host``."""
        return f"{self.prefix}:exec:slots:in:{host}"

    @property
    def slots_cluster(self) -> str:
        """SORTED SET token → expiry (s): migrations in the cluster."""
        return f"{self.prefix}:exec:slots:cluster"

    def progress(self, vm: str) -> str:
        """STRING JSON ``Progress`` of ``vm``'s running migration (expires)."""
        return f"{self.prefix}:exec:progress:{vm}"

    def outcome(self, vm: str) -> str:
        """STRING JSON ``MigrationRecord`` of ``vm``'s last migration."""
        return f"{self.prefix}:exec:outcome:{vm}"

    @property
    def outcomes(self) -> str:
        """STREAM (MAXLEN-bounded) field ``outcome``: a JSON ``MigrationRecord`` per finished
        (or fenced, or cancelled) migration, in the order they ended."""
        return f"{self.prefix}:exec:outcomes"

    @property
    def running(self) -> str:
        """HASH migration id → JSON ``MigrationRecord`` of the migrations under way."""
        return f"{self.prefix}:exec:running"

    @property
    def exec_stats(self) -> str:
        """HASH counter → number: the executor's waits and retries (slot waits by bucket,
        their seconds, lease refusals, task retries by task and kind;
        ``balancer.state.exec_stats``), read by the exporter."""
        return f"{self.prefix}:exec:stats"

    @property
    def power_log(self) -> str:
        """STREAM (MAXLEN-bounded): every power action tried, with its result."""
        return f"{self.prefix}:exec:power"

    # -- the control loop (the daemon) -------------------------------------------------

    @property
    def epoch(self) -> str:
        """STRING: the fencing epoch, incremented by every leader that takes over."""
        return f"{self.prefix}:ctl:epoch"

    @property
    def leader(self) -> str:
        """STRING JSON ``{"id", "epoch", "since"}`` with the lease's TTL: the leader."""
        return f"{self.prefix}:ctl:leader"

    @property
    def leader_changes(self) -> str:
        """STRING: how many times a daemon took over the lead (the exporter's counter)."""
        return f"{self.prefix}:ctl:leader-changes"

    @property
    def memory(self) -> str:
        """STRING JSON ``CycleMemory``: what the cycle remembers, across leaders."""
        return f"{self.prefix}:ctl:memory"

    @property
    def cycles(self) -> str:
        """STREAM (MAXLEN-bounded) field ``cycle``: a ``CycleRecord`` per cycle."""
        return f"{self.prefix}:ctl:cycles"

    @property
    def last_cycle(self) -> str:
        """STRING JSON ``CycleRecord``: the last cycle."""
        return f"{self.prefix}:ctl:last-cycle"

    @property
    def vm_history(self) -> str:
        """STREAM (MAXLEN-bounded), one small entry per sample of every VM's CPU the
        daemon keeps: its time ``t`` and the digest of its ``layout`` (the VM names)."""
        return f"{self.prefix}:ctl:history"

    @property
    def vm_history_cpu(self) -> str:
        """HASH sample time → zstd float32 CPU of every VM, in its layout's order."""
        return f"{self.prefix}:ctl:history-cpu"

    @property
    def vm_history_layouts(self) -> str:
        """HASH layout digest → zstd msgpack list of VM names, sorted (one per VM set,
        shared by every sample taken while the set stayed the same)."""
        return f"{self.prefix}:ctl:history-layouts"

    @property
    def daemon_settings(self) -> str:
        """STRING JSON ``ControlSettings``: what the last daemon started with (``balancer
        plan`` decides by them as the daemon does)."""
        return f"{self.prefix}:ctl:settings"

    @property
    def paused(self) -> str:
        """STRING JSON ``{"by", "at", "reason"}``: the daemon plans nothing new."""
        return f"{self.prefix}:ctl:paused"

    @property
    def plan(self) -> str:
        """STRING JSON: the plan in flight (its id, epoch and moves)."""
        return f"{self.prefix}:ctl:plan"

    @property
    def evacuations(self) -> str:
        """HASH evacuation id → JSON ``Evacuation``: the operators' durable intents."""
        return f"{self.prefix}:ctl:evacuations"

    @property
    def power(self) -> str:
        """HASH host → JSON ``PowerRecord``: hosts the balancer powered off or on."""
        return f"{self.prefix}:ctl:power"

    # -- the simulated fleet (``balancer fleet sim``) ----------------------------------

    @property
    def sim_clock(self) -> str:
        """STRING JSON: the fleet's clock (simulated seconds at a Redis instant, speed)."""
        return f"{self.prefix}:sim:clock"

    @property
    def sim_placement(self) -> str:
        """HASH VM → host: where each simulated VM runs (one field: one host)."""
        return f"{self.prefix}:sim:placement"

    @property
    def sim_vms(self) -> str:
        """HASH VM → JSON: each simulated VM's fixed facts."""
        return f"{self.prefix}:sim:vms"

    @property
    def sim_hosts(self) -> str:
        """HASH host → JSON: each simulated host's fixed facts."""
        return f"{self.prefix}:sim:hosts"

    @property
    def sim_runs(self) -> str:
        """HASH VM → JSON: the simulated migrations under way."""
        return f"{self.prefix}:sim:runs"

    @property
    def sim_load_scale(self) -> str:
        """STRING float: every simulated VM's trace load is multiplied by it (absent: 1);
        ``balancer fleet load --scale X`` sets it while the fleet runs."""
        return f"{self.prefix}:sim:load-scale"

    @property
    def sim_power(self) -> str:
        """HASH host → JSON: each simulated host's power state."""
        return f"{self.prefix}:sim:power"

    @property
    def sim_config(self) -> str:
        """STRING JSON: what the fleet was started with (``balancer.fleet.config``)."""
        return f"{self.prefix}:sim:config"

    @property
    def sim_trace(self) -> str:
        """STRING: the fleet's trace, CPU % as little-endian float32, rows x steps."""
        return f"{self.prefix}:sim:trace"

    def sim_host_vms(self, host: str) -> str:
        """SET: the simulated VMs on ``host`` (``sim_placement`` read by host)."""
        return f"{self.prefix}:sim:host:{host}:vms"

    @property
    def sim_vm_state(self) -> str:
        """HASH VM → ``paused`` | ``shutoff``: simulated VMs not running (absent: running)."""
        return f"{self.prefix}:sim:vm-state"

    @property
    def sim_moves(self) -> str:
        """STREAM (MAXLEN-bounded) ``vm``, ``source``, ``dest``: every landed migration."""
        return f"{self.prefix}:sim:moves"

    @property
    def sim_ended(self) -> str:
        """HASH VM → JSON: how the VM's last simulated migration ended."""
        return f"{self.prefix}:sim:ended"

    @property
    def sim_marks(self) -> str:
        """HASH VM → JSON ``{"host", "epoch", "id", "at"}``: the migration that last
        marked the VM's domain (the fencing epoch it moved under)."""
        return f"{self.prefix}:sim:marks"


DEFAULT_KEYS = Keys()
