"""``balancer sim``: replay a workload trace through the cycle, the planner and a
simulated executor; print the reference's metrics (``run``) or ours beside the
published ones (``compare``)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click
import msgspec

from balancer.cli.options import Finite
from balancer.errors import InputError
from balancer.sim.placements import placement_record
from balancer.sim.reference import REFERENCE_DAY
from balancer.sim.replay import SimConfig, SimResult, StepRecord, load_config, replay
from balancer.sim.report import COMPARE_HEADER, compare_rows, meets_day_targets, run_document
from balancer.sim.workload import SETUPS, Workload, snapshot_workload
from balancer.snapshot_file import load_snapshot
from balancer.traces.load import load_trace
from balancer.traces.trace import Trace


@click.group("sim")
def sim_group() -> None:
    """Replay workload traces (PlanetLab, GCD, Bitbrains) through the planner."""


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--trace",
            "trace_path",
            required=True,
            metavar="PATH",
            help="A PlanetLab day folder; the GCD archive or its folder; the Bitbrains "
            "file or its folder.",
        ),
        click.option(
            "--setup",
            type=click.Choice(sorted(SETUPS)),
            default="reference",
            show_default=True,
            help="How hosts and VM sizes are made up.",
        ),
        click.option(
            "--snapshot",
            "snapshot_path",
            type=click.Path(dir_okay=False),
            metavar="FILE",
            help="Replay the trace on this cluster (hosts, VMs where they are) instead.",
        ),
        click.option(
            "--capacity-mode",
            type=click.Choice(["cpu-only", "cpu+memory"]),
            help="Pack CPU only (as the reference) or memory too [default: cpu-only].",
        ),
        click.option(
            "--hours",
            type=Finite(0, 24 * 3650.0, low_open=True),
            help="Replay only the first H hours.",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            help="Simulator settings (JSON of SimConfig fields).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _config(path: str | None, capacity_mode: str | None, hours: float | None) -> SimConfig:
    config = SimConfig()
    if path is not None:
        try:
            config = load_config(Path(path).read_bytes())
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        except msgspec.ValidationError as exc:
            raise InputError(str(exc), path) from None
        except msgspec.DecodeError as exc:
            raise InputError(f"not valid JSON: {exc}", path) from None
    changes: dict[str, object] = {}
    if capacity_mode is not None:
        changes["capacity_mode"] = capacity_mode
    if hours is not None:
        changes["hours"] = hours
    return msgspec.structs.replace(config, **changes)


def _load(trace_path: str, setup: str, snapshot_path: str | None) -> tuple[Trace, Workload]:
    trace = load_trace(trace_path)
    if snapshot_path is not None:
        return trace, snapshot_workload(trace, load_snapshot(snapshot_path))
    return trace, SETUPS[setup](trace)


def _replay(
    workload: Workload, config: SimConfig, on_step: Callable[[StepRecord], None] | None = None
) -> tuple[SimResult, float]:
    t0 = time.perf_counter()
    result = replay(workload, config, on_step)
    return result, time.perf_counter() - t0


@sim_group.command("run")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--placements-out",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write one JSON line per step: placement, active hosts, migrations.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    metavar="FILE.png",
    help="Draw hosts on, power and overloaded time over the trace.",
)
def run_command(
    trace_path: str,
    setup: str,
    snapshot_path: str | None,
    capacity_mode: str | None,
    hours: float | None,
    config_path: str | None,
    as_json: bool,
    placements_out: str | None,
    plot_path: str | None,
) -> None:
    """Replay a trace and print energy, SLATAH, PDM, SLAV, ESV, migrations and more.

    Example: balancer sim run --trace ../shared/data/planetlab/20110303 --json
    """
    config = _config(config_path, capacity_mode, hours)
    if plot_path is not None:
        _writable(plot_path, "--plot")  # before the replay, not after it
    trace, workload = _load(trace_path, setup, snapshot_path)
    if placements_out is None:
        result, seconds = _replay(workload, config)
    else:
        with _open_out(placements_out) as out:

            def write(record: StepRecord) -> None:
                out.write(msgspec.json.encode(placement_record(workload, record)) + b"\n")

            result, seconds = _replay(workload, config, write)
    if plot_path is not None:
        # matplotlib loads in ~0.4 s: only when a plot is asked for.
        from balancer.sim.plot import plot_run  # noqa: PLC0415

        plot_run(result.series, result.metrics, _title(trace, config), plot_path)
    doc = run_document(trace, workload, result, seconds, setup)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    m = result.metrics
    lines = [
        f"trace        {trace.kind} {trace.source} ({len(workload.vms)} VMs, "
        f"{len(workload.hosts)} hosts, {config.capacity_mode}, {m.hours:.1f} h)",
        f"energy       {m.energy_kwh:.2f} kWh",
        f"SLATAH       {100 * m.slatah:.2f} %",
        f"PDM          {m.pdm:.3e}",
        f"SLAV         {m.slav:.3e}",
        f"ESV          {m.esv:.3e}",
        f"migrations   {m.migrations} ({m.migration_time_total_s / 3600:.2f} h in all, "
        f"mean {m.migration_time_mean_s:.1f} s, downtime {m.downtime_total_ms:.0f} ms, "
        f"{m.deferred_moves} deferred)",
        f"hosts        mean {m.mean_active_hosts:.1f} on, peak {m.peak_active_hosts}, "
        f"{m.hosts_powered_on} powered on, {m.hosts_powered_off} off",
        f"cycles       {result.actions}, {result.plans_computed} plans computed",
        f"replay       {seconds:.1f} s",
    ]
    click.echo("\n".join(lines))


@sim_group.command("compare")
@_common
def compare_command(
    trace_path: str,
    setup: str,
    snapshot_path: str | None,
    capacity_mode: str | None,
    hours: float | None,
    config_path: str | None,
) -> None:
    """Replay a trace and print our figures beside the reference's (CloudSim 3.0.3).

    Example: balancer sim compare --trace ../shared/data/planetlab/20110303
    """
    config = _config(config_path, capacity_mode, hours)
    trace, workload = _load(trace_path, setup, snapshot_path)
    result, seconds = _replay(workload, config)
    m = result.metrics
    day = Path(trace.source).name
    rows = [COMPARE_HEADER, *compare_rows(m, f"kvm-balancer ({day})")]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COMPARE_HEADER))]
    click.echo(
        f"reference: CloudSim 3.0.3 on PlanetLab {REFERENCE_DAY} and its 10-day medians; "
        f"ours: {trace.kind} {day}, {config.capacity_mode}, {m.hours:.1f} h"
    )
    for row in rows:
        click.echo(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    verdict = meets_day_targets(m)
    marks = ", ".join(f"{k} {'ok' if ok else 'MISSED'}" for k, ok in verdict.items())
    click.echo(
        f"targets set for {REFERENCE_DAY} (LR-MMT-1.2's figures, <= 10 % of its migrations): "
        f"{marks}"
    )
    click.echo(f"replay {seconds:.1f} s, PDM {m.pdm:.3e}, ESV {m.esv:.3e}")


def _writable(path: str, option: str) -> None:
    """A file can be written at ``path`` (its folder exists and takes files)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: no folder {folder}", option)
    if target.is_dir():
        raise InputError(f"cannot write {path}: it is a folder", option)
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise InputError(f"cannot write {path}: permission denied", option)


def _open_out(path: str) -> IO[bytes]:
    try:
        return Path(path).open("wb")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def _title(trace: Trace, config: SimConfig) -> str:
    return f"kvm-balancer replay: {trace.kind} {Path(trace.source).name}, {config.capacity_mode}"
