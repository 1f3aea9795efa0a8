"""Non-live migration: the guest is suspended on the source, then resumes on the destination."""

from __future__ import annotations

import time

import libvirt
import pytest

from balancer.lab.background import Background
from balancer.lab.probes import LIVE_P2P
from balancer.lab.pytest_plugin import BusyGuest

pytestmark = pytest.mark.lab
SUSPENDED_P2P = LIVE_P2P & ~libvirt.VIR_MIGRATE_LIVE


def test_non_live_migration_suspends_then_resumes(lab_busy_guest: BusyGuest) -> None:
    scene = lab_busy_guest
    dom = scene.domain()
    params = {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 48}
    run = Background(lambda: dom.migrateToURI3(scene.dest.uri, params, SUSPENDED_P2P), "mig")
    states = set()
    while not run.done():
        try:
            states.add(tuple(dom.state()))
        except libvirt.libvirtError:
            break  # the domain left the source: the migration is ending
        time.sleep(0.05)
    run.result(timeout=300)
    at_end = scene.guest.counter()

    assert (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_MIGRATION) in states, states
    on_dest = scene.domain("lab-b")
    assert on_dest.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    done = on_dest.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    # Suspended for the whole transfer: the downtime is most of the migration's time.
    assert done["downtime"] > 0.5 * done["time_elapsed"], done
    assert scene.guest.wait_for_counter(above=at_end + 4, timeout=60).counter > at_end
