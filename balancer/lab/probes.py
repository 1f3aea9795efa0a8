"""Watching a guest from its host while something happens to it: migration job stats and
the dirty-page rate. Used by the lab tests; small enough to read as examples.

``jobStats()`` polled while a migration runs raises "domain is not running" or "domain
not found" on the source as the migration ends: that is the normal end, not a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import libvirt

from balancer.lab.background import Background
from balancer.lab.errors import LabTimeoutError

#: Live peer-to-peer migration that leaves the guest defined on the destination only.
LIVE_P2P = (
    libvirt.VIR_MIGRATE_LIVE
    | libvirt.VIR_MIGRATE_PEER2PEER
    | libvirt.VIR_MIGRATE_PERSIST_DEST
    | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
)
_ENDED = (libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_ERR_NO_DOMAIN)
JobStats = dict[str, Any]


def job_stats(dom: Any) -> JobStats | None:
    """The running job's statistics, or ``None`` once the domain has left this host."""
    try:
        return dict(dom.jobStats())
    except libvirt.libvirtError as exc:
        if exc.get_error_code() in _ENDED:
            return None
        raise


def watch_job(
    dom: Any,
    run: Background,
    until: Callable[[JobStats], bool] | None = None,
    timeout: float = 300,
    interval: float = 0.25,
) -> list[JobStats]:
    """Samples of the migration job on ``dom`` (only those of a running job) until the
    call ``run`` ends, or until ``until(sample)`` holds (that sample is the last)."""
    samples: list[JobStats] = []
    deadline = time.monotonic() + timeout
    while not run.done():
        stats = job_stats(dom)
        if stats is None:
            break
        if stats.get("type") == libvirt.VIR_DOMAIN_JOB_UNBOUNDED:
            samples.append(stats)
            if until is not None and until(stats):
                return samples
        if time.monotonic() >= deadline:
            raise LabTimeoutError(f"{run.what}: still running after {timeout:.0f}s")
        time.sleep(interval)
    if until is not None:
        raise LabTimeoutError(
            f"{run.what} ended before the awaited job state; last: {samples[-1:]}"
        )
    return samples


def dirty_rate(conn: Any, dom: Any, seconds: int, timeout: float = 60) -> int:
    """One page-sampling dirty-rate measurement over ``seconds``, in MiB/s.

    Page sampling hashes a random sample of pages (512 per GiB) at the start and the end
    of the period: it works under TCG (dirty-bitmap reads 0 there, dirty-ring needs KVM).
    """
    started = int(time.time()) - 2  # calc_start_time is wall-clock seconds
    dom.startDirtyRateCalc(seconds, libvirt.VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING)
    deadline = time.monotonic() + seconds + timeout
    time.sleep(seconds)
    while time.monotonic() < deadline:
        records = conn.domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_DIRTYRATE)
        stats = records[0][1]
        done = stats.get("dirtyrate.calc_status") == libvirt.VIR_DOMAIN_DIRTYRATE_MEASURED
        if done and stats.get("dirtyrate.calc_start_time", 0) >= started:
            return int(stats["dirtyrate.megabytes_per_second"])
        time.sleep(0.2)
    raise LabTimeoutError(f"dirty-rate calculation not done after {seconds + timeout:.0f}s")
