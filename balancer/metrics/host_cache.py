"""The hosts' part of ``/metrics``, read and rendered between scrapes.

Reading every report of 10,000 hosts × 40 VMs takes 0.5–1.5 s on the 2-core CI machine
even with the exporter's lean decoding (``host_read``; 21 MiB through Redis, decompressed
and parsed) — too close to, or over, the 1 s a scrape may take. So a thread reads the
hosts every ``refresh_s`` (default 10 s, the agents' report interval: reading more often
shows nothing new) and renders their lines once; a scrape writes the last rendering and
only computes what depends on the time of the scrape (each report's age). A scrape thus
costs the same at 10 or 10,000 hosts; the hosts' figures are at most ``refresh_s`` older
than the store's (``kvmb_store_read_age_seconds`` says by how much).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import msgspec
import redis

from balancer.metrics import exposition as text
from balancer.metrics.catalogue import metric
from balancer.metrics.host_read import HostsRead, read_hosts
from balancer.state.keys import Keys

log = logging.getLogger(__name__)

MIB = 2**20
HOST_STATES = ("active", "maintenance", "draining", "off", "failed")
POWER_STATES = ("on", "off", "booting")


@dataclass(frozen=True)
class HostsView:
    """One read of the hosts and its rendering (``read`` None: the read failed)."""

    read: HostsRead | None
    #: Every per-host (and per-VM) line but the report ages.
    lines: str
    #: The ``host="..."`` label of each host, in ``read.hosts``'s order.
    prefixes: tuple[str, ...]
    read_s: float
    #: ``time.monotonic()`` when the read began.
    at: float


def render(read: HostsRead, per_vm: bool) -> tuple[str, tuple[str, ...]]:
    hosts = read.hosts
    prefixes = tuple(f'host="{text.escape(h.name)}"' for h in hosts)
    parts = [
        *text.gauge_lines(metric("kvmb_host_cpu_used_cores"), prefixes,
                          [h.cpu_used for h in hosts]),
        *text.gauge_lines(metric("kvmb_host_cpu_capacity_cores"), prefixes,
                          [h.cpu_capacity for h in hosts]),
        *text.gauge_lines(metric("kvmb_host_memory_used_bytes"), prefixes,
                          [float(h.memory_used_mib * MIB) for h in hosts]),
        *text.gauge_lines(metric("kvmb_host_memory_capacity_bytes"), prefixes,
                          [float(h.memory_mib * MIB) for h in hosts]),
        *text.gauge_lines(metric("kvmb_host_vms"), prefixes, [float(h.vm_count) for h in hosts]),
        *text.gauge_lines(metric("kvmb_host_heartbeat_lost"), prefixes,
                          [1.0 if h.stale else 0.0 for h in hosts]),
        *text.one_hot_lines(metric("kvmb_host_state"), prefixes, [h.state for h in hosts],
                            HOST_STATES),
        *text.one_hot_lines(metric("kvmb_host_power_state"), prefixes,
                            [h.power for h in hosts], POWER_STATES),
    ]  # fmt: skip
    if per_vm:
        parts += _vm_lines(read)
    return "".join(parts), prefixes


def _vm_lines(read: HostsRead) -> list[str]:
    pairs = [(h.name, vm) for h in read.hosts for vm in h.vms]
    prefixes = [f'vm="{text.escape(v.name)}",host="{text.escape(h)}"' for h, v in pairs]
    return [
        *text.gauge_lines(metric("kvmb_vm_cpu_used_cores"), prefixes,
                          [v.cpu_used for _, v in pairs]),
        *text.gauge_lines(metric("kvmb_vm_memory_bytes"), prefixes,
                          [float(v.memory_mib * MIB) for _, v in pairs]),
        *text.gauge_lines(metric("kvmb_vm_dirty_rate_bytes_per_second"), prefixes,
                          [v.dirty_rate_mib_s * MIB for _, v in pairs]),
    ]  # fmt: skip


def age_lines(view: HostsView, now: float) -> str:
    """The report ages at ``now`` (the scrape's time, the exporter's clock)."""
    if view.read is None:
        return ""
    ages = [max(0.0, now - h.collected_at) for h in view.read.hosts]
    return "".join(text.gauge_lines(metric("kvmb_host_report_age_seconds"), view.prefixes, ages))


class HostCache:
    """``view()``: the last read of the hosts; ``refresh()`` reads them again (the thread
    started by ``start()`` does so every ``refresh_s``)."""

    def __init__(self, client: redis.Redis, keys: Keys, *, per_vm: bool, refresh_s: float):
        self.client, self.keys, self.per_vm, self.refresh_s = client, keys, per_vm, refresh_s
        self.errors = 0
        self._view: HostsView | None = None
        self._stop = threading.Event()

    def view(self) -> HostsView:
        if self._view is None:
            self.refresh()
        assert self._view is not None
        return self._view

    def refresh(self) -> HostsView:
        at, started = time.monotonic(), time.perf_counter()
        try:
            read = read_hosts(self.client, self.keys, per_vm=self.per_vm)
        except (redis.RedisError, msgspec.DecodeError) as exc:
            self.errors += 1
            log.warning("reading the hosts failed: %s", exc)
            view = HostsView(None, "", (), time.perf_counter() - started, at)
        else:
            lines, prefixes = render(read, self.per_vm)
            view = HostsView(read, lines, prefixes, time.perf_counter() - started, at)
        self._view = view
        return view

    def start(self) -> None:
        """Refresh in a thread every ``refresh_s`` from now on (the first read first)."""
        self.refresh()
        threading.Thread(target=self._run, name="host-refresh", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception:
                log.exception("refreshing the hosts failed; the next refresh tries again")
