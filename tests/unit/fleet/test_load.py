"""VM loads from the trace (pure): linear between samples, wrapping round the day, one VM's
load the same as the vectorized one."""

from __future__ import annotations

import numpy as np
import pytest

from balancer.fleet.load import LoadModel, cores_at, vm_cores

TRACE = np.array([[0, 50, 100, 50], [10, 10, 10, 10]], dtype=np.float32)


def model() -> LoadModel:
    return LoadModel(
        trace_pct=TRACE,
        step_s=300.0,
        t0=1000.0,
        rows=np.array([0, 1, 0]),
        offsets=np.array([0.0, 0.0, 1.5]),
        sizes=np.array([2.0, 1.0, 2.0]),
    )


def test_loads_interpolate_between_samples() -> None:
    m = model()
    assert m.cores(1000.0).tolist() == pytest.approx([0.0, 0.1, 1.5])
    assert m.cores(1150.0).tolist() == pytest.approx([0.5, 0.1, 2.0])
    assert m.cores(1600.0, np.array([0])).tolist() == pytest.approx([2.0])


def test_the_trace_wraps_round_the_day() -> None:
    m = model()
    assert m.cores(1000.0 + 4 * 300.0).tolist() == pytest.approx(m.cores(1000.0).tolist())
    assert m.cores(1000.0 + 3.5 * 300.0)[0] == pytest.approx(0.5)  # 50 % → 0 %, halfway


def test_one_vm_is_computed_as_all_of_them() -> None:
    m = model()
    for t in (1000.0, 1234.5, 99_999.0):
        every = m.cores(t)
        for j in range(3):
            one = vm_cores(TRACE, 300.0, 1000.0, t, int(m.rows[j]), float(m.offsets[j]),
                           float(m.sizes[j]))  # fmt: skip
            assert one == every[j]
    assert cores_at(TRACE, 300.0, 1000.0, 1000.0, np.array([1]), np.zeros(1), np.ones(1))[0] == (
        pytest.approx(0.1)
    )


def test_a_load_scale_multiplies_the_trace_but_no_vm_passes_its_size() -> None:
    m = model()
    # at 1150: 25 % (row 0), 10 % (row 1), 100 % (row 0, shifted)
    assert m.cores(1150.0, scale=3.0).tolist() == pytest.approx([1.5, 0.3, 2.0])
    assert m.cores(1150.0, scale=0.5).tolist() == pytest.approx([0.25, 0.05, 1.0])
    one = vm_cores(TRACE, 300.0, 1000.0, 1150.0, 0, 1.5, 2.0, scale=3.0)
    assert one == pytest.approx(2.0)
