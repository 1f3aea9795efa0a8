"""The initial placement: power-aware best-fit decreasing."""

from __future__ import annotations

import numpy as np
import pytest

from balancer.core.models import CapacityMode
from balancer.errors import InputError
from balancer.sim.initial import Opening, cloudsim_creation, power_aware_bfd
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


def _create(sizes: list[float], memory: list[float], hosts: int = 6) -> list[int]:
    placed = cloudsim_creation(
        tuple(reference_host(i) for i in range(hosts)),
        np.array(sizes),
        np.array(memory),
        np.ones(len(sizes)),
    )
    return [int(h) for h in placed]


def test_cloudsim_never_creates_a_vm_faster_than_a_host_core_there() -> None:
    """A 2500- or 2000-MIPS VM needs a 2660-MIPS core: never a G4 (1860), even with
    only G4s left with room."""
    placed = _create([2.5] * 4 + [2.0] * 2, [870.0] * 6)
    assert all(h % 2 == 1 for h in placed)
    assert placed == [1, 1, 3, 3, 5, 5]  # first fit over the G5s: 2 x 2500 per 5320 MIPS


def test_cloudsim_charges_an_idle_host_only_its_rise_above_idle() -> None:
    """A 500-MIPS VM raises a G4 by 4.5 W, a G5 by 3.1 W above idle: the G5 opens,
    although its idle power is higher (the rule with off hosts at 0 W opens the G4)."""
    assert _create([0.5], [613.0]) == [1]
    assert _place([0.5], opening="rise") == [0]


def test_cloudsim_creates_vms_at_their_full_size_and_ram() -> None:
    """Two 1000-MIPS VMs of 1740 MB fill a host's 4096 MB: the third opens the next
    G5, though the CPU would hold five of them."""
    assert _create([1.0] * 3, [1740.0] * 3) == [1, 1, 3]
    with pytest.raises(InputError):
        _create([2.5] * 7, [870.0] * 7)  # 3 G5s hold 6 of them, the G4s none
