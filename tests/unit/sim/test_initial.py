"""The initial placement: power-aware best-fit decreasing."""

from __future__ import annotations

import numpy as np
import pytest

from balancer.core.models import CapacityMode
from balancer.sim.initial import Opening, power_aware_bfd
from balancer.traces.planetlab import reference_host

HOSTS = tuple(reference_host(i) for i in range(6))  # G4, G5, G4, G5, G4, G5


def _place(
    cpu: list[float],
    memory: list[float] | None = None,
    *,
    headroom: float = 0.0,
    mode: CapacityMode = "cpu-only",
    opening: Opening = "amortized",
) -> list[int]:
    mem = np.array(memory if memory is not None else [870.0] * len(cpu))
    placed = power_aware_bfd(
        HOSTS, np.array(cpu), mem, headroom=headroom, capacity_mode=mode, opening=opening
    )
    return [int(h) for h in placed]


def test_hosts_fill_before_another_is_switched_on() -> None:
    assert _place([1.0, 1.0, 1.0]) == [1, 1, 1]


def test_the_largest_vm_is_placed_first() -> None:
    # 3 + 2 + 1 cores: the 3 opens a G5 (5.32), the 2 fits beside it, the 1 does not.
    placed = _place([1.0, 3.0, 2.0])
    assert placed[1] == placed[2] == 1
    assert placed[0] != 1


@pytest.mark.parametrize(("opening", "host"), [("amortized", 1), ("rise", 0)])
def test_which_host_opens(opening: Opening, host: int) -> None:
    """The paper's rule opens the G4 (lower idle power); amortized over the VMs a host
    holds, the G5 (more capacity per watt) opens."""
    assert _place([0.5], opening=opening) == [host]


def test_headroom_is_kept() -> None:
    placed = _place([2.0, 2.0], headroom=0.5)  # 2.66 cores usable on a G5
    assert placed[0] != placed[1]


def test_memory_counts_in_cpu_and_memory_mode() -> None:
    cpu, mem = [0.1] * 3, [1740.0] * 3  # two fit in 4096 MiB, not three
    assert len(set(_place(cpu, mem, mode="cpu+memory"))) == 2
    assert len(set(_place(cpu, mem, mode="cpu-only"))) == 1


def test_idle_vms_spread_over_the_hosts_that_are_on() -> None:
    placed = _place([3.0, 3.0, 0.0, 0.0, 0.0, 0.0])
    on = sorted(set(placed[:2]))
    assert len(on) == 2
    assert sorted(placed[2:]) == [on[0], on[0], on[1], on[1]]


def test_a_vm_no_host_fits_goes_where_most_cpu_is_left() -> None:
    assert _place([9.0]) == [1]
