"""Post-copy: a migration that pre-copy alone cannot finish completes after the switch."""

from __future__ import annotations

import time

import libvirt
import pytest

from balancer.lab.background import Background
from balancer.lab.guests import lookup
from balancer.lab.probes import LIVE_P2P, job_stats, watch_job
from balancer.lab.pytest_plugin import BUSY_RATE_MIB_S, BusyGuest

pytestmark = pytest.mark.lab
MIB = 1024 * 1024


def test_postcopy_after_migrate_start_postcopy(lab_busy_guest: BusyGuest) -> None:
    scene = lab_busy_guest
    dom = scene.domain()
    params = {
        # Pre-copy bandwidth below the guest's dirty rate: it could never converge.
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: BUSY_RATE_MIB_S // 2,
        # A capped post-copy phase lasts a few seconds, long enough to be watched.
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY: 32,
    }
    flags = LIVE_P2P | libvirt.VIR_MIGRATE_POSTCOPY
    run = Background(lambda: dom.migrateToURI3(scene.dest.uri, params, flags), "migrate")
    watch_job(dom, run, until=lambda s: s.get("memory_processed", 0) > 16 * MIB)
    dom.migrateStartPostCopy()
    requests, dest_states = 0, set()
    while (stats := job_stats(dom)) is not None and not run.done():
        requests = max(requests, stats.get("memory_postcopy_requests", 0))
        on_dest = lookup(scene.lab.conn("lab-b"), scene.guest.name)
        if on_dest is not None:
            dest_states.add(tuple(on_dest.state()))
        time.sleep(0.1)
    run.result(timeout=300)
    at_end = scene.guest.counter()

    # The guest ran on lab-b before all its memory was there, and faulted pages in.
    assert (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_POSTCOPY) in dest_states
    assert requests > 0
    on_dest = scene.domain("lab-b")
    assert on_dest.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert on_dest.isPersistent()
    assert scene.guest.wait_for_counter(above=at_end + 4, timeout=60).counter > at_end
