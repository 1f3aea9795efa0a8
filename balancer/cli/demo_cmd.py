"""``balancer demo``: the whole system at work on a simulated fleet (what `make demo` runs)."""

from __future__ import annotations

import sys

import click
import msgspec
from rich.console import Console
from rich.table import Table

from balancer.demo.run import DemoOptions, run_demo
from balancer.demo.summary import Summary


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="No live view; print the summary as JSON.")
@click.option("--hosts", type=click.IntRange(4, 200), default=16, show_default=True)
@click.option("--vms", type=click.IntRange(8, 5000), default=200, show_default=True)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True)
@click.option(
    "--minutes",
    type=click.FloatRange(1.0, 60.0),
    default=3.0,
    show_default=True,
    help="How long the run takes, start and stop included (the day is compressed to fit).",
)
def demo_command(as_json: bool, hosts: int, vms: int, seed: int, minutes: float) -> None:
    """Run kvm-balancer on a simulated fleet for a few minutes and show it at work: a
    private redis-server, the fleet (its VMs follow a PlanetLab day), two Celery workers
    and two daemons (one leads). At night the daemon packs the load and powers hosts
    off; an operator evacuates a host; in the morning the load returns and the daemon
    powers hosts on before any overloads. Ends with a summary; every process it started
    is stopped, also on Ctrl-C (exit 130).

    Example: balancer demo --minutes 2 --json
    """
    options = DemoOptions(hosts=hosts, vms=vms, seed=seed, minutes=minutes)
    console = None if as_json else Console(stderr=False)
    try:
        summary = run_demo(options, console)
    except KeyboardInterrupt:
        click.echo("interrupted: every process of the demo is stopped", err=True)
        sys.exit(130)
    if as_json:
        click.echo(msgspec.json.encode(summary).decode())
    else:
        Console().print(summary_table(summary))


def summary_table(s: Summary, title: str = "", clock: str = "simulated") -> Table:
    """``title``: the table's (default: the simulated demo's); ``clock``: what the
    evacuation's duration was measured in."""
    title = title or (
        f"kvm-balancer demo: {s.hosts} hosts, {s.vms} VMs, {s.fleet_hours:.0f} "
        f"simulated hours in {s.seconds:.0f} s"
    )
    t = Table(title=title, show_header=False)
    t.add_row("moves", f"{s.moves}: " + ", ".join(f"{n} {r}" for r, n in s.by_reason.items()))
    t.add_row("modes", ", ".join(f"{n} {m}" for m, n in s.by_mode.items()) or "-")
    fallbacks = ", ".join(f"{n} by {step}" for step, n in s.fallbacks.items())
    t.add_row("fallback ladder", fallbacks or "not needed")
    t.add_row("hosts powered", f"{s.powered_off} off, {s.powered_on} on")
    if s.evacuation is not None:
        e = s.evacuation
        took = "not done" if e.seconds is None else f"done in {_duration(e.seconds)}"
        t.add_row("evacuation", f"{e.host}: {took} ({clock}), {e.vms_left} VM(s) left")
    saved = (
        1 - s.energy_kwh / s.energy_kwh_no_power_management
        if s.energy_kwh_no_power_management
        else 0
    )
    t.add_row(
        "energy",
        f"{s.energy_kwh:.3g} kWh; all hosts on: {s.energy_kwh_no_power_management:.3g} kWh "
        f"({saved:.0%} saved)",
    )
    t.add_row("VMs lost / duplicated", f"{s.vms_lost} / {s.vms_duplicated}")
    t.add_row("failed / fenced moves", f"{s.failed} / {s.fenced}")
    t.add_row("processes left running", ", ".join(s.processes_left) or "none")
    return t


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds:.0f} s"
