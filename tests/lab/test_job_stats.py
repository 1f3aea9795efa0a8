"""jobStats() during a live migration, and the stats of the completed job."""

from __future__ import annotations

import libvirt
import pytest

from balancer.lab.background import Background
from balancer.lab.probes import LIVE_P2P, watch_job
from balancer.lab.pytest_plugin import BUSY_RATE_MIB_S, BusyGuest

pytestmark = pytest.mark.lab
MIB = 1024 * 1024


def test_job_stats_show_progress(lab_busy_guest: BusyGuest) -> None:
    scene = lab_busy_guest
    dom = scene.domain()
    # 48 MiB/s: three times the guest's dirty rate, so it converges, but slowly enough
    # (a few seconds) to be watched.
    params = {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 48}
    run = Background(lambda: dom.migrateToURI3(scene.dest.uri, params, LIVE_P2P), "migrate")
    # The first samples, while QEMU sets up, are all zeros: keep those of the transfer.
    samples = [s for s in watch_job(dom, run) if s.get("memory_total", 0) > 0]
    run.result(timeout=300)

    processed = [s["memory_processed"] for s in samples]
    assert len(samples) >= 3, samples
    assert processed == sorted(processed)
    assert processed[-1] - processed[0] > 32 * MIB
    assert min(s["memory_remaining"] for s in samples) < samples[0]["memory_remaining"]
    # The guest kept writing, so pre-copy needed more than one pass, and QEMU saw it.
    assert max(s["memory_iteration"] for s in samples) >= 2
    rate_pages = max(s.get("memory_dirty_rate", 0) for s in samples)
    rate_mib = rate_pages * samples[-1]["memory_page_size"] / MIB
    assert 0.5 * BUSY_RATE_MIB_S <= rate_mib <= 2 * BUSY_RATE_MIB_S, rate_mib

    done = scene.domain("lab-b").jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    assert done["type"] == libvirt.VIR_DOMAIN_JOB_COMPLETED
    assert done["memory_processed"] >= processed[-1]
    assert 0 < done["downtime"] < done["time_elapsed"]
