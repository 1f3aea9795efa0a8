"""Fixtures shared by the lab's executor tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from balancer.lab.lab import Lab
from workers.executor.libvirt_hv import LibvirtHypervisor


@pytest.fixture
def hv(lab: Lab) -> Iterator[LibvirtHypervisor]:
    """The executor's libvirt hypervisor on lab-a and lab-b."""
    the_hv = LibvirtHypervisor({h: lab.host(h).uri for h in ("lab-a", "lab-b")})
    yield the_hv
    the_hv.close()
