"""Fixtures shared by the lab's executor tests; leaks blamed on the test that leaked
(tests/fixtures/leaks.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from balancer.lab.lab import Lab
from tests.fixtures.leaks import collect_what_the_test_dropped
from workers.executor.libvirt_hv import LibvirtHypervisor

__all__ = ["collect_what_the_test_dropped", "hv"]


@pytest.fixture
def hv(lab: Lab) -> Iterator[LibvirtHypervisor]:
    """The executor's libvirt hypervisor on lab-a and lab-b."""
    the_hv = LibvirtHypervisor({h: lab.host(h).uri for h in ("lab-a", "lab-b")})
    yield the_hv
    the_hv.close()
