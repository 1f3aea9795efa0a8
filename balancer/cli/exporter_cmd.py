"""``balancer exporter``: the cluster's metrics from the store, for Prometheus
(docs/metrics.md)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from balancer.cli.options import clock_option, make_clock
from balancer.cli.state_cmds import prefix_option, redis_option
from balancer.state.connect import redact_url, redis_from_url
from balancer.state.keys import Keys

log = logging.getLogger(__name__)


@click.command("exporter")
@redis_option
@prefix_option
@click.option("--port", type=click.IntRange(0, 65535), default=9877, show_default=True,
              help="Port of /metrics (0: any free port, logged).")  # fmt: skip
@click.option("--address", default="", show_default="all interfaces",
              help="Address to listen on (127.0.0.1: this machine only).")  # fmt: skip
@click.option("--per-vm", is_flag=True,
              help="Also export each VM's CPU, memory and dirty rate: one series per VM and "
                   "metric (high cardinality: 1.2 million series at 400,000 VMs).")  # fmt: skip
@clock_option
@click.option("--refresh-s", type=click.FloatRange(0, 3600), default=10.0, show_default=True,
              help="Read the hosts every this many seconds, between scrapes (0: at every "
                   "scrape; slow on large clusters).")  # fmt: skip
def exporter_command(
    redis_url: str,
    prefix: str,
    port: int,
    address: str,
    per_vm: bool,
    clock: str,
    refresh_s: float,
) -> None:
    """Serve the cluster's metrics (hosts, migrations, power, evacuations, the executor's
    waits and retries), read from the store at each scrape, on http://ADDRESS:PORT/metrics.

    Example: balancer exporter --redis redis://ctl:6379/0 --port 9877
    """
    from balancer.metrics.exporter import StoreExporter  # noqa: PLC0415
    from balancer.metrics.http import start_server  # noqa: PLC0415

    keys = Keys(prefix)
    client = redis_from_url(redis_url, timeout_s=30)
    exporter = StoreExporter(client, keys, make_clock(clock, client, keys), per_vm=per_vm,
                             refresh_s=refresh_s)  # fmt: skip
    exporter.start()
    server = start_server(exporter.scrape, port, address)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    log.info("exporter on port %d, store %s", server.port, redact_url(redis_url))
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        exporter.stop()
        client.close()
