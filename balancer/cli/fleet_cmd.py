"""``balancer fleet sim``: run a simulated fleet of KVM hosts against a store (docs/fleet.md).

N simulated hosts publish agent reports into Redis; workers started with ``balancer
worker --hypervisor sim`` migrate their VMs and power them on and off, through the
fleet's shared state in the same Redis. Runs until SIGINT/SIGTERM (exit 0) or for
``--duration-s`` real seconds.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import click
import msgspec

from balancer.cli.options import Finite, redis_option
from balancer.core.models import MAX_AMOUNT
from balancer.errors import InputError
from balancer.fleet.clock import FleetClock
from balancer.fleet.config import FleetConfig
from balancer.fleet.publisher import Publisher, RoundStats
from balancer.fleet.setup import default_trace, start_fleet
from balancer.fleet.store import FleetStore
from balancer.state.connect import redact_url, redis_from_url
from balancer.state.keys import Keys

log = logging.getLogger(__name__)
_POS = Finite(0, MAX_AMOUNT, low_open=True)
_NONNEG = Finite(0, MAX_AMOUNT)
_COUNT = click.IntRange(1, 10_000_000)


@click.group("fleet")
def fleet_group() -> None:
    """A simulated fleet of KVM hosts for whole-system runs and tests."""


@fleet_group.command("sim")
@redis_option
@click.option("--hosts", type=_COUNT, required=True, help="Simulated hosts.")
@click.option("--vms", type=_COUNT, required=True, help="Simulated VMs in all.")
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Chooses trace rows, hot VMs, memory facts.",
)
@click.option(
    "--trace",
    "trace",
    metavar="PATH",
    help="Trace folder or file (PlanetLab day, GCD, Bitbrains) [PlanetLab 20110303].",
)
@click.option(
    "--speed", type=_POS, default=1.0, show_default=True, help="Fleet seconds per real second."
)
@click.option("--duration-s", type=_POS, help="Stop after this many real seconds.")
@click.option(
    "--interval",
    type=_POS,
    default=10.0,
    show_default=True,
    help="Fleet seconds between two reports of a host.",
)
@click.option("--ttl", type=_POS, help="Heartbeat lifetime in fleet seconds [3 intervals].")
@click.option(
    "--boot-s",
    type=_NONNEG,
    default=120.0,
    show_default=True,
    help="Fleet seconds a powered-on host takes to boot.",
)
@click.option(
    "--dirty-per-core",
    type=_NONNEG,
    default=16.0,
    show_default=True,
    help="MiB/s a VM dirties per core it uses.",
)
@click.option(
    "--bandwidth",
    type=_POS,
    default=62.5,
    show_default=True,
    help="Migration bandwidth of every host, MiB/s.",
)
@click.option(
    "--hot-vms",
    type=click.IntRange(0, 10_000_000),
    default=0,
    show_default=True,
    help="VMs that dirty memory faster than the link sends it.",
)
@click.option(
    "--hot-factor",
    type=Finite(1, 1e6, low_open=True),
    default=1.5,
    show_default=True,
    help="A hot VM's dirty rate in multiples of the bandwidth.",
)
@click.option(
    "--host-scale",
    type=click.IntRange(1, 1_000_000),
    help="Reference hosts per simulated host [the smallest that holds the VMs].",
)
@click.option(
    "--memory-scale",
    type=click.FloatRange(min=1, max=64),
    default=1.0,
    show_default=True,
    help="Each host's memory in multiples of its reference hosts' (CPU binds before memory).",
)
@click.option(
    "--placement",
    type=click.Choice(["packed", "spread"]),
    default="packed",
    show_default=True,
    help="Power-aware best fit, or VM j on host j mod N.",
)
@click.option(
    "--empty-hosts",
    type=click.Choice(["on", "off"]),
    default="on",
    show_default=True,
    help="Power state of hosts the placement leaves empty.",
)
@click.option(
    "--history-len",
    type=click.IntRange(0, 1_000_000),
    default=12,
    show_default=True,
    help="History entries kept per host.",
)
@click.option("--start", type=_NONNEG, help="Fleet time at the start [the Unix time now].")
@click.option("--reset", is_flag=True, help="Forget the fleet the store holds; start anew.")
@click.option("--stats", is_flag=True, help="Print one JSON line per round of reports.")
def fleet_sim_command(
    *,
    redis_url: str,
    trace: str | None,
    duration_s: float | None,
    interval: float,
    ttl: float | None,
    dirty_per_core: float,
    bandwidth: float,
    empty_hosts: str,
    start: float | None,
    reset: bool,
    stats: bool,
    **world: object,
) -> None:
    """Run N simulated hosts holding M VMs until SIGINT/SIGTERM (or --duration-s)."""
    try:
        config = msgspec.convert(
            {
                **world,
                "trace": trace or default_trace(),
                "interval_s": interval,
                "ttl_s": ttl,
                "dirty_per_core_mib_s": dirty_per_core,
                "bandwidth_mib_s": bandwidth,
                "empty_hosts_on": empty_hosts == "on",
                "start": time.time() if start is None else start,
            },
            FleetConfig,
        ).checked()
    except msgspec.ValidationError as exc:
        raise InputError(str(exc)) from None
    client = redis_from_url(redis_url)
    try:
        keys = Keys()
        store = FleetStore(client, keys)
        model = start_fleet(store, config, reset=reset)
        clock = FleetClock.from_redis(client, keys)
        stop = threading.Event()

        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: stopping", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        if duration_s is not None:
            timer = threading.Timer(duration_s, stop.set)
            timer.daemon = True
            timer.start()
        log.warning(
            "fleet: %d hosts, %d VMs at %gx on %s",
            config.hosts, config.vms, clock.speed, redact_url(redis_url),
        )  # fmt: skip
        Publisher(store, model, clock).run(stop, _print_stats if stats else None)
    finally:
        client.close()


def _print_stats(stats: RoundStats) -> None:
    click.echo(msgspec.json.encode(stats).decode())


@fleet_group.command("load")
@redis_option
@click.option(
    "--scale",
    type=Finite(0, 100),
    required=True,
    help="Multiply every VM's trace load by this (1: the trace as it is).",
)
def fleet_load_command(redis_url: str, scale: float) -> None:
    """Scale the simulated fleet's load while it runs (the load of a quiet night, of a
    busy morning): every report from the next round on shows each VM's trace load times
    SCALE.

    Example: balancer fleet load --scale 0.3
    """
    client = redis_from_url(redis_url)
    try:
        store = FleetStore(client, Keys())
        store.set_load_scale(scale)
    finally:
        client.close()
    click.echo(f"fleet load: x{scale:g}")
