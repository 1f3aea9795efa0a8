"""The agent loop: collect, publish, sleep; survive libvirt and Redis going away.

Each cycle collects one report and publishes it in one round trip, which also brings back
what the executor measured of the host's VMs for the next report (``publish``). When
libvirt is unreachable no report is published (the heartbeat then expires and the host turns
``failed``/``stale``: the planner must not trust facts it cannot refresh); when Redis is
unreachable the report is dropped (the next one is fresher). Either way the agent logs
what it skipped and retries with capped, jittered backoff; every call has a timeout, so
it never blocks forever, and an unexpected error is logged with its traceback and the
loop goes on. After connecting, a first collection primes the CPU counters (usage is a
difference of two samples) and starts dirty-rate measurements; the first report follows
``warmup_s`` later.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import libvirt
import redis

from balancer.core.backoff import compute_backoff
from balancer.core.models import Power
from balancer.errors import PermanentError, RetryableError
from balancer.state.connect import redact_url, redis_from_url
from balancer.state.keys import DEFAULT_PREFIX, Keys
from balancer.state.publish import (
    DEFAULT_HISTORY_LEN,
    ensure_schema,
    publish_report,
    read_resident,
)
from balancer.state.report import HostReport, with_resident
from workers.agent.collector import Collector, CollectorConfig
from workers.agent.connection import check_uri, close_quietly, is_connection_lost, open_connection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentOptions:
    libvirt_uri: str
    redis_url: str
    host_name: str | None = None
    advertise_uri: str | None = None
    interval_s: float = 10.0
    #: Heartbeat lifetime; default three intervals.
    ttl_s: float | None = None
    history_len: int = DEFAULT_HISTORY_LEN
    prefix: str = DEFAULT_PREFIX
    virt_type: str = "auto"
    shared_pools: frozenset[str] = frozenset()
    #: Where other hosts send this host's migration data (``Host.migration_uri``).
    migration_uri: str = ""
    #: The host's CPU use is its VMs' (hosts sharing one machine: the lab's).
    usage_from_vms: bool = False
    #: The host's power draw (``Host.power``), when its operators know it.
    power: Power | None = None
    warmup_s: float = 1.5
    backoff_cap_s: float = 30.0

    @property
    def heartbeat_ttl_s(self) -> float:
        return self.ttl_s if self.ttl_s is not None else 3 * self.interval_s


class Agent:
    def __init__(
        self,
        options: AgentOptions,
        *,
        open_libvirt: Callable[[str], libvirt.virConnect] = open_connection,
        client: redis.Redis | None = None,
        collector_factory: Callable[[CollectorConfig], Collector] = Collector,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        check_uri(options.libvirt_uri)
        self.options = options
        self.keys = Keys(options.prefix)
        self._open_libvirt = open_libvirt
        self._own_client = client is None
        self.client = client if client is not None else redis_from_url(options.redis_url)
        self._collector_factory = collector_factory
        self._mono = monotonic
        self._conn: libvirt.virConnect | None = None
        self.collector: Collector | None = None
        self._schema_checked = False
        #: The executor's measures of this host's VMs, as the last publish read them.
        self._resident: Mapping[str, float] | None = None
        self._libvirt_failures = 0
        self._redis_failures = 0
        self.published = 0
        self.generation = 0

    # -- connections ----------------------------------------------------------------
    def _connect(self) -> Collector:
        """Open libvirt, make (or re-attach) the collector, prime it with one collection."""
        conn = self._open_libvirt(self.options.libvirt_uri)
        try:
            if self.collector is None:
                name = self.options.host_name or _host_name(conn)
                self.collector = self._collector_factory(
                    CollectorConfig(
                        host_name=name,
                        uri=self.options.libvirt_uri,
                        advertise_uri=self.options.advertise_uri or "",
                        interval_s=self.options.interval_s,
                        ttl_s=self.options.heartbeat_ttl_s,
                        virt_type=self.options.virt_type,
                        shared_pools=self.options.shared_pools,
                        migration_uri=self.options.migration_uri,
                        usage_from_vms=self.options.usage_from_vms,
                        power=self.options.power,
                    )
                )
            self.collector.attach(conn)
            self.collector.collect()
        except BaseException:
            close_quietly(conn)
            raise
        self._conn = conn
        return self.collector

    def _drop_libvirt(self) -> None:
        close_quietly(self._conn)
        self._conn = None

    def close(self) -> None:
        self._drop_libvirt()
        if self._own_client:
            self.client.close()

    def _backoff(self, failures: int) -> float:
        cap = min(self.options.backoff_cap_s, max(1.0, 3 * self.options.interval_s))
        return compute_backoff(failures, factor=0.5, cap=cap, jitter=0.2, rand=random.random())

    # -- one report -----------------------------------------------------------------
    def publish(self, report: HostReport) -> HostReport:
        """Publish ``report`` with the executor's measures of its VMs; return what went out.

        The measures come back with each publish and go into the next report; the first
        publish (and the first after Redis was unreachable) reads them first."""
        if not self._schema_checked:
            ensure_schema(self.client, self.keys)
            self._schema_checked = True
        if self._resident is None:
            self._resident = read_resident(self.client, self.keys, report.host.name)
        report = with_resident(report, self._resident)
        published = publish_report(
            self.client, self.keys, report, history_len=self.options.history_len
        )
        self._resident = published.resident_mib
        self.published += 1
        self.generation = published.generation
        return report

    def run_once(self) -> HostReport:
        """Connect, prime, wait ``warmup_s``, collect and publish one report, disconnect."""
        try:
            collector = self._connect()
            time.sleep(self.options.warmup_s)
            report = collector.collect()
        except libvirt.libvirtError as exc:
            raise RetryableError(
                f"collecting from {self.options.libvirt_uri}: {exc.get_error_message()}"
            ) from None
        finally:
            self._drop_libvirt()
        try:
            report = self.publish(report)
        except redis.RedisError as exc:
            raise RetryableError(
                f"publishing to {redact_url(self.options.redis_url)}: {exc}"
            ) from None
        return report

    # -- the loop -------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Report every ``interval_s`` until ``stop`` is set; never raises for I/O trouble."""
        log.info(
            "agent: libvirt %s, Redis %s, every %.1fs (heartbeat %.1fs)",
            self.options.libvirt_uri,
            redact_url(self.options.redis_url),
            self.options.interval_s,
            self.options.heartbeat_ttl_s,
        )
        wake = self._mono()
        while not stop.wait(max(0.0, wake - self._mono())):
            start = self._mono()
            try:
                wake = start + self._cycle()
            except Exception:  # the agent must outlive bugs; say so loudly and go on
                log.exception("agent cycle failed unexpectedly; retrying")
                wake = start + self._backoff(1)
        self._drop_libvirt()

    def _cycle(self) -> float:
        """One step of the loop; returns the seconds until the next one."""
        if self._conn is None:
            try:
                self._connect()
            except (RetryableError, libvirt.libvirtError) as exc:
                self._libvirt_failures += 1
                delay = self._backoff(self._libvirt_failures)
                log.warning(
                    "no report: libvirt unavailable (%s); retrying in %.1fs", _message(exc), delay
                )
                return delay
            self._libvirt_failures = 0
            log.info(
                "connected to %s as host %s",
                self.options.libvirt_uri,
                self.collector.config.host_name if self.collector else "?",
            )
            return self.options.warmup_s
        assert self.collector is not None
        try:
            report = self.collector.collect()
        except libvirt.libvirtError as exc:
            if is_connection_lost(exc, self._conn):
                log.warning(
                    "no report: libvirt connection lost (%s); reconnecting", exc.get_error_message()
                )
                self._drop_libvirt()
                return self._backoff(1)
            log.warning("no report: %s", exc.get_error_message())
            return self.options.interval_s
        if report.skipped:
            log.info("report %d skipped: %s", report.seq, "; ".join(report.skipped))
        try:
            self.publish(report)
        except (redis.RedisError, PermanentError) as exc:
            self._schema_checked = False
            self._resident = None
            self._redis_failures += 1
            delay = max(self.options.interval_s, self._backoff(self._redis_failures))
            log.warning(
                "report %d not published: Redis %s unavailable (%s); next in %.1fs",
                report.seq,
                redact_url(self.options.redis_url),
                exc,
                delay,
            )
            return delay
        if self._redis_failures:
            log.info("Redis reachable again after %d failed publishes", self._redis_failures)
        self._redis_failures = 0
        return self.options.interval_s


def _message(exc: BaseException) -> str:
    if isinstance(exc, libvirt.libvirtError):
        return str(exc.get_error_message())
    return str(exc)


def _host_name(conn: libvirt.virConnect) -> str:
    try:
        return str(conn.getHostname()) or socket.gethostname()
    except libvirt.libvirtError:
        return socket.gethostname()
