"""``balancer lab demo``: the demo on the lab's real libvirt hosts (what `make lab-demo`
runs, as root)."""

from __future__ import annotations

import sys

import click
import msgspec
from rich.console import Console

from balancer.cli.demo_cmd import summary_table
from balancer.demo.lab_run import run_lab_demo
from balancer.demo.lab_system import LabDemoOptions


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="No live view; print the summary as JSON.")
@click.option("--hosts", type=click.IntRange(2, 6), default=3, show_default=True)
@click.option("--guests", type=click.IntRange(2, 12), default=6, show_default=True)
@click.option(
    "--minutes",
    type=click.FloatRange(1.0, 30.0),
    default=4.0,
    show_default=True,
    help="How long the run takes, start and stop included.",
)
@click.option(
    "--burn",
    type=click.IntRange(0, 100),
    default=30,
    show_default=True,
    help="Share of its vCPU (%) each guest burns in the day.",
)
def lab_demo(as_json: bool, hosts: int, guests: int, minutes: float, burn: int) -> None:
    """Run kvm-balancer on real libvirt hosts and QEMU guests of a lab on this machine
    (root): a private redis-server, the lab's hosts and guests, an agent per host, two
    Celery workers on libvirt, two daemons (one leads) and the exporter. At night the
    daemon packs the guests and powers hosts off (their libvirtd stops); an operator
    evacuates a host; in the morning the guests burn CPU and the daemon powers hosts on.
    Ends with `balancer demo`'s summary; everything it started is stopped, also on
    Ctrl-C (exit 130).

    Example: sudo balancer lab demo --minutes 3 --json
    """
    options = LabDemoOptions(hosts=hosts, guests=guests, minutes=minutes, burn=burn)
    try:
        summary = run_lab_demo(options, None if as_json else Console())
    except KeyboardInterrupt:
        click.echo("interrupted: every process and the lab of the demo are stopped", err=True)
        sys.exit(130)
    if as_json:
        click.echo(msgspec.json.encode(summary).decode())
        return
    title = (
        f"kvm-balancer lab demo: {summary.hosts} libvirt hosts, {summary.vms} QEMU guests, "
        f"{summary.seconds:.0f} s"
    )
    Console().print(summary_table(summary, title, clock="real time"))
    click.echo(
        "energy: estimated, each host priced as a 100-250 W server at the CPU its agent "
        "reports (docs/lab.md, 'The lab demo')"
    )
