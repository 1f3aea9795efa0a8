"""One collection: everything a host report says, for one libvirt connection.

Cost per collection, whatever the number of domains: one ``getAllDomainStats`` call
(state, cpu, balloon, vcpu, block, dirtyrate groups) and psutil counters. Slow facts are
cached: host facts (capabilities, pools, networks) for ``host_facts_refresh_s``; each
domain's XML facts as ``DomainXmlCache`` decides. Dirty-rate measurements follow
``DirtyRateSchedule``. The structs themselves are built by the pure ``report_parts``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import libvirt

from balancer import __version__
from balancer.core.models import Power, Vm
from balancer.state.report import HostReport
from workers.agent.connection import is_connection_lost
from workers.agent.dirty_rate import (
    DEFAULT_CALC_S,
    DEFAULT_MAX_STARTS,
    DEFAULT_PERIOD_S,
    DirtyRateSchedule,
)
from workers.agent.domain_stats import STATS_GROUPS, DomainSample, cpu_cores_used, parse_stats
from workers.agent.domain_xml import DomainFacts, parse_domain_xml
from workers.agent.host_facts import HostFacts, read_host_facts
from workers.agent.host_usage import Counters, read_counters, usage_between
from workers.agent.report_parts import build_host, build_vm, pool_facts
from workers.agent.xml_cache import DomainXmlCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectorConfig:
    host_name: str
    uri: str
    #: The URI other hosts and the executor use for this host (default: ``uri``).
    advertise_uri: str = ""
    interval_s: float = 10.0
    ttl_s: float = 30.0
    virt_type: str = "auto"
    #: Pools to report as shared whatever their type and mount say.
    shared_pools: frozenset[str] = frozenset()
    #: Where other hosts send this host's migration data ("": libvirt's default).
    migration_uri: str = ""
    #: Report the host's CPU use as its VMs' (hosts sharing one machine, as the lab's:
    #: the machine's load is not this host's).
    usage_from_vms: bool = False
    #: The host's power draw as its operators know it (a spec sheet, a meter's
    #: reading); ``None``: unknown (energy saving then cannot price a drain).
    power: Power | None = None
    host_facts_refresh_s: float = 300.0
    xml_refresh_s: float = 60.0
    dirty_rate_period_s: float = DEFAULT_PERIOD_S
    dirty_rate_calc_s: int = DEFAULT_CALC_S
    dirty_rate_max_starts: int = DEFAULT_MAX_STARTS


class Collector:
    def __init__(
        self,
        config: CollectorConfig,
        *,
        clock: Callable[[], float] = time.time,
        counters: Callable[[float], Counters] = read_counters,
    ) -> None:
        self.config = config
        self.conn: libvirt.virConnect | None = None
        self._clock = clock
        self._read_counters = counters
        self._host: HostFacts | None = None
        self._host_at = 0.0
        self._xml = DomainXmlCache(config.interval_s, config.xml_refresh_s)
        self._cpu: dict[str, tuple[int, float]] = {}  # uuid → (cpu.time ns, when)
        self._dirty: dict[str, tuple[float, float]] = {}  # uuid → (MiB/s, measured at)
        self._dirty_supported = True
        self._schedule = DirtyRateSchedule(
            config.dirty_rate_period_s, config.dirty_rate_calc_s, config.dirty_rate_max_starts
        )
        self._counters: Counters | None = None
        self.reports = 0

    def attach(self, conn: libvirt.virConnect) -> None:
        """Use a (new) connection; host facts are read again (the daemon may have changed)."""
        self.conn = conn
        self._host = None
        self._dirty_supported = True

    def _host_facts(self, now: float) -> HostFacts:
        assert self.conn is not None
        if self._host is None or now - self._host_at >= self.config.host_facts_refresh_s:
            self._host = read_host_facts(
                self.conn, self.config.uri, self.config.virt_type, self.config.shared_pools
            )
            self._host_at = now
        return self._host

    def _domain(
        self, dom: libvirt.virDomain, uuid: str, sample: DomainSample, *, now: float,
        refresh: bool, skipped: list[str],
    ) -> DomainFacts | None:  # fmt: skip
        known = self._xml.get(uuid)
        if known is not None and not refresh:
            return known
        try:
            facts = parse_domain_xml(dom.XMLDesc(0))
        except libvirt.libvirtError as exc:
            if is_connection_lost(exc, self.conn):
                raise
            skipped.append(f"VM {dom.name()}: domain XML: {exc.get_error_message()}")
            return known
        self._xml.put(uuid, facts, now, sample.state != "shutoff")
        return facts

    def _start_dirty_rates(
        self, domains: dict[str, libvirt.virDomain], running: list[str], now: float,
        skipped: list[str],
    ) -> None:  # fmt: skip
        if not self._dirty_supported:
            skipped.append("dirty rate: not supported by this libvirt driver")
            return
        schedule = self._schedule
        for uuid in schedule.due(running, now):
            schedule.started(uuid, now)
            try:
                domains[uuid].startDirtyRateCalc(
                    schedule.calc_s, libvirt.VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING
                )
            except libvirt.libvirtError as exc:
                if is_connection_lost(exc, self.conn):
                    raise
                if exc.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
                    self._dirty_supported = False
                    skipped.append("dirty rate: not supported by this libvirt driver")
                    return
                skipped.append(f"dirty rate of {domains[uuid].name()}: {exc.get_error_message()}")

    def collect(self) -> HostReport:
        """Collect one report; raises ``libvirt.libvirtError`` if the connection is lost."""
        if self.conn is None:
            raise RuntimeError("Collector.collect() before attach()")
        now = self._clock()
        host = self._host_facts(now)
        skipped = list(host.skipped)
        counters = self._read_counters(now)
        usage = usage_between(self._counters, counters)
        self._counters = counters
        samples = [
            (dom, dom.UUIDString(), parse_stats(stats))
            for dom, stats in self.conn.getAllDomainStats(STATS_GROUPS, 0)
        ]
        at = self._clock()
        refresh = self._xml.due(((u, s.state != "shutoff") for _, u, s in samples), now)
        vms: list[Vm] = []
        rss: dict[str, int] = {}
        dirty_times: dict[str, float] = {}
        domains: dict[str, libvirt.virDomain] = {}
        running: list[str] = []
        for dom, uuid, sample in samples:
            facts = self._domain(
                dom, uuid, sample, now=now, refresh=uuid in refresh, skipped=skipped
            )
            if facts is None:
                continue
            domains[uuid] = dom
            cpu_used = cpu_cores_used(self._cpu.get(uuid), sample.cpu_time_ns, at)
            if sample.cpu_time_ns is not None:
                self._cpu[uuid] = (sample.cpu_time_ns, at)
            if sample.dirty_rate_mib_s is not None:
                started = float(sample.dirty_rate_started or at)
                self._dirty[uuid] = (sample.dirty_rate_mib_s, started)
            if sample.state == "running":
                running.append(uuid)
            dirty, dirty_at = self._dirty.get(uuid, (0.0, 0.0))
            vm = build_vm(self.config.host_name, facts, sample, host, cpu_used=cpu_used,
                          dirty_rate_mib_s=dirty)  # fmt: skip
            vms.append(vm)
            if dirty_at:
                dirty_times[vm.name] = dirty_at
            if sample.rss_kib:
                rss[vm.name] = sample.rss_kib // 1024
        if self.config.usage_from_vms:
            usage = replace(usage, cpu_used=sum(vm.cpu_used for vm in vms))
        self._forget_except(set(domains))
        self._start_dirty_rates(domains, running, now, skipped)
        self.reports += 1
        uri = self.config.advertise_uri or self.config.uri
        return HostReport(
            host=build_host(
                self.config.host_name,
                uri,
                host,
                usage,
                vms,
                migration_uri=self.config.migration_uri,
                power=self.config.power,
            ),
            vms=tuple(vms),
            collected_at=now,
            interval_s=self.config.interval_s,
            ttl_s=self.config.ttl_s,
            seq=self.reports,
            agent_version=__version__,
            load_avg=usage.load_avg,
            nic_rx_bytes_s=usage.nic_rx_bytes_s,
            nic_tx_bytes_s=usage.nic_tx_bytes_s,
            pools=pool_facts(host.pools),
            vm_rss_mib=rss,
            vm_dirty_rate_at=dirty_times,
            skipped=tuple(skipped),
        )

    def _forget_except(self, present: set[str]) -> None:
        """Drop what is known of domains that are gone (memory stays as big as the host)."""
        self._xml.forget_except(present)
        self._schedule.forget_except(present)
        for cache in (self._cpu, self._dirty):
            for uuid in [u for u in cache if u not in present]:
                del cache[uuid]
