"""pytest fixtures on the lab. Register with ``pytest_plugins = ["balancer.lab.pytest_plugin"]``.

    lab             session   a Lab with lab-a and lab-b (pools default+shared, lab-net),
                              stopped at the end, or by its watchdog if the session dies
    lab_island      session   lab-c added to that lab: no shared pool, no lab-net
    lab_guests      function  GuestFactory: guests made through it are removed afterwards
    lab_busy_guest  function  BusyGuest: lab-a, lab-b and a running guest on lab-a that
                              dirties 16 MiB/s of a 112 MiB working set

Every test marked ``@pytest.mark.lab`` (and every test using these fixtures) needs root
and the lab set-up. Without them it fails with a message saying how to run it; it never
skips (deselect the lab tests on purpose with ``-m "not lab"``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from balancer.lab import watchdog
from balancer.lab.guests import Guest
from balancer.lab.lab import Lab
from balancer.lab.paths import labs_root
from balancer.lab.procs import ProcessId
from balancer.lab.requirements import HOW_TO_RUN, lab_problems
from balancer.lab.specs import GuestSpec, default_host_specs
from balancer.lab.stale import reap_stale_labs
from balancer.lab.state import HostRecord

BUSY_RATE_MIB_S = 16
BUSY_WORKING_SET_MIB = 112
_names = itertools.count(1)


def require_lab() -> None:
    """Fail the current test, saying how to run it, unless the lab can run here. A lab
    test never skips: leave the lab out on purpose with ``-m "not lab"``."""
    problems = lab_problems()
    if problems:
        message = "lab unavailable: " + "; ".join(problems) + f" -- {HOW_TO_RUN}"
        pytest.fail(f'{message} (or deselect the lab tests: -m "not lab")', pytrace=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("lab") is not None:
        require_lab()


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    require_lab()
    reap_stale_labs()
    root = labs_root() / f"pytest-{os.getpid()}"
    the_lab = Lab(root)
    owner = ProcessId.of(os.getpid())
    root.mkdir(parents=True, exist_ok=True)
    guard = watchdog.start(root)
    try:
        the_lab.up(default_host_specs(2), owner=owner)
        yield the_lab
    finally:
        try:
            the_lab.down()
        finally:
            watchdog.stop(guard)


@pytest.fixture(scope="session")
def lab_island(lab: Lab) -> HostRecord:
    lab.up(default_host_specs(3))
    return lab.host("lab-c")


class GuestFactory:
    """Makes guests with unique names in the session lab and removes them all at the end."""

    def __init__(self, the_lab: Lab) -> None:
        self.lab = the_lab
        self.made: list[str] = []

    def new_name(self) -> str:
        return f"g{next(_names):03d}-{os.getpid() % 10000}"

    def add(self, host: str, start: bool = True, **spec: Any) -> Guest:
        """Add a guest on ``host``; ``spec`` holds GuestSpec fields (name is optional)."""
        name = spec.pop("name", None) or self.new_name()
        self.made.append(name)
        return self.lab.add_guest(host, GuestSpec(name=name, **spec), start=start)

    def cleanup(self) -> None:
        """Remove every guest made here; try them all, then raise the first failure."""
        failures: list[Exception] = []
        for name in self.made:
            try:
                self.lab.remove_guest(name)
            except Exception as exc:  # each guest still gets its turn
                failures.append(exc)
        if failures:
            raise failures[0]


@pytest.fixture
def lab_guests(lab: Lab) -> Iterator[GuestFactory]:
    factory = GuestFactory(lab)
    yield factory
    factory.cleanup()


@dataclass(frozen=True)
class BusyGuest:
    """Two hosts and a guest running on ``source`` that dirties memory steadily."""

    lab: Lab
    source: HostRecord
    dest: HostRecord
    guest: Guest

    def domain(self, host: str | None = None) -> Any:
        """The guest's libvirt domain on ``host`` (default: the source)."""
        return self.lab.conn(host or self.source.name).lookupByName(self.guest.name)


@pytest.fixture
def lab_busy_guest(lab: Lab, lab_guests: GuestFactory) -> BusyGuest:
    guest = lab_guests.add(
        "lab-a",
        memory_mib=192,
        dirty_rate_mib_s=BUSY_RATE_MIB_S,
        working_set_mib=BUSY_WORKING_SET_MIB,
    )
    return BusyGuest(lab, lab.host("lab-a"), lab.host("lab-b"), guest)
