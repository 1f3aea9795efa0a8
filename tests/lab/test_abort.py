"""abortJob() in the middle of a live migration leaves the guest running on the source."""

from __future__ import annotations

import libvirt
import pytest

from balancer.lab.background import Background
from balancer.lab.guests import lookup
from balancer.lab.probes import LIVE_P2P, watch_job
from balancer.lab.pytest_plugin import BUSY_RATE_MIB_S, BusyGuest

pytestmark = pytest.mark.lab
MIB = 1024 * 1024


def test_abort_job_keeps_guest_on_source(lab_busy_guest: BusyGuest) -> None:
    scene = lab_busy_guest
    dom = scene.domain()
    params = {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: BUSY_RATE_MIB_S // 2}  # cannot converge
    run = Background(lambda: dom.migrateToURI3(scene.dest.uri, params, LIVE_P2P), "migrate")
    watch_job(dom, run, until=lambda s: s.get("memory_processed", 0) > 8 * MIB)
    dom.abortJob()
    with pytest.raises(libvirt.libvirtError) as failed:
        run.result(timeout=120)
    at_abort = scene.guest.counter()

    assert failed.value.get_error_code() == libvirt.VIR_ERR_OPERATION_ABORTED, failed.value
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert dom.isPersistent()
    assert lookup(scene.lab.conn("lab-b"), scene.guest.name) is None
    assert scene.guest.wait_for_counter(above=at_abort + 4, timeout=60).counter > at_abort
