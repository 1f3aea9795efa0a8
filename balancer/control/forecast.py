"""Forecast each VM's CPU demand from its own past samples, nothing else.

``history`` is VMs x samples, oldest first; its last column is the sample just taken.
A forecaster sees only that matrix, so it cannot see the future: the replay hands it
the samples up to the current step and no further.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from balancer.control.power import FloatArray


def last(history: FloatArray, window: int, quantile: float) -> FloatArray:
    """The current sample (no forecast)."""
    out: FloatArray = history[:, -1].copy()
    return out


def window_mean(history: FloatArray, window: int, quantile: float) -> FloatArray:
    """The mean of the last ``window`` samples."""
    out: FloatArray = history[:, -window:].mean(axis=1)
    return out


def window_quantile(history: FloatArray, window: int, quantile: float) -> FloatArray:
    """The ``quantile`` of the last ``window`` samples (linear between order statistics,
    as ``np.quantile``, by a partial sort), and never below the current one."""
    recent = history[:, -window:]
    n = recent.shape[1]
    if n == 0 or recent.shape[0] == 0:
        return recent[:, -1].copy() if n else np.zeros(recent.shape[0])
    pos = quantile * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    part = np.partition(recent, sorted({lo, hi}), axis=1)
    q = part[:, lo] + (part[:, hi] - part[:, lo]) * (pos - lo)
    out: FloatArray = np.maximum(q, recent[:, -1])
    return out


def window_peak(history: FloatArray, window: int, quantile: float) -> FloatArray:
    """The largest of the last ``window`` samples."""
    out: FloatArray = history[:, -window:].max(axis=1)
    return out


#: Forecaster name -> ``f(history, window, quantile)`` giving each VM's expected demand.
FORECASTERS: dict[str, Callable[[FloatArray, int, float], FloatArray]] = {
    "last": last,
    "mean": window_mean,
    "quantile": window_quantile,
    "peak": window_peak,
}
