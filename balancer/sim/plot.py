"""One PNG per replay: hosts on, power, and overloaded-host time over the trace, with the
run's figures in the title so the picture reads without the JSON (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from balancer.sim.metrics import Metrics
from balancer.sim.replay import Series


def plot_run(series: Series, metrics: Metrics, title: str, path: str | Path) -> None:
    fig, (hosts, power, over) = plt.subplots(
        3, 1, figsize=(8, 6.4), sharex=True, gridspec_kw={"hspace": 0.12}
    )
    hours = series.hours
    hosts.step(hours, series.active_hosts, where="post", color="tab:blue", lw=1.2)
    hosts.set_ylabel("hosts on")
    hosts.set_ylim(bottom=0)
    moved = hosts.twinx()
    moved.bar(
        hours,
        series.migrations,
        width=hours[1] - hours[0] if len(hours) > 1 else 0.08,
        align="edge",
        color="tab:gray",
        alpha=0.35,
    )
    moved.set_ylabel("migrations / step", color="tab:gray")
    hosts.set_zorder(moved.get_zorder() + 1)  # the line over the bars
    hosts.patch.set_visible(False)
    power.plot(hours, series.power_kw, color="tab:orange", lw=1.2)
    power.set_ylabel("power (kW)")
    power.set_ylim(bottom=0)
    over.fill_between(
        hours, 100 * series.overloaded_share, step="post", color="tab:red", alpha=0.6, lw=0
    )
    over.axhline(100 * metrics.slatah, color="black", lw=0.8, ls="--", label="SLATAH")
    over.legend(loc="upper right", fontsize=8, frameon=False)
    over.set_ylabel("overloaded\n% of host time")
    over.set_xlabel("hour of the trace")
    over.set_ylim(bottom=0)
    for ax in (hosts, power, over):
        ax.grid(alpha=0.3)
    fig.suptitle(
        f"{title}\n{metrics.energy_kwh:.2f} kWh · SLATAH {100 * metrics.slatah:.2f} % · "
        f"PDM {metrics.pdm:.2e} · SLAV {metrics.slav:.2e} · {metrics.migrations} migrations · "
        f"hosts on: mean {metrics.mean_active_hosts:.1f}, peak {metrics.peak_active_hosts}",
        fontsize=9,
    )
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
