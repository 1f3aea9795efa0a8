"""``balancer daemon``: the autonomous balancer (docs/daemon.md)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
import msgspec

from balancer.cli.options import clock_option, make_clock
from balancer.cli.state_cmds import prefix_option, redis_option
from balancer.control.settings import ControlSettings
from balancer.errors import InputError
from balancer.state.connect import redact_url, redis_from_url
from balancer.state.keys import Keys

if TYPE_CHECKING:
    from balancer.metrics.daemon_metrics import DaemonMetrics

log = logging.getLogger(__name__)


def _settings(text: str | None) -> ControlSettings:
    if text is None:
        return ControlSettings()
    try:
        data = text if text.lstrip().startswith("{") else Path(text).read_text()
    except OSError as exc:
        raise InputError(f"cannot read {text}: {exc.strerror}", "--settings") from None
    try:
        return msgspec.json.decode(data, type=ControlSettings)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise InputError(f"{exc}", "--settings") from None


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not (0 < value < float("inf")):
        raise click.BadParameter("must be a positive number of seconds")
    return value


@click.command("daemon")
@redis_option
@prefix_option
@click.option(
    "--interval",
    "interval_s",
    type=float,
    default=60.0,
    show_default=True,
    callback=_finite,
    help="Seconds between two cycles (of the fleet's clock with --clock fleet).",
)
@click.option("--id", "identity", default=None, help="This daemon's id (default host-pid-random).")
@click.option(
    "--lease-s",
    type=float,
    default=15.0,
    show_default=True,
    callback=_finite,
    help="Leader lease (a dead leader is replaced within this + --retry-s).",
)
@click.option(
    "--renew-deadline-s",
    type=float,
    default=10.0,
    show_default=True,
    callback=_finite,
    help="A leader that cannot renew for this long stops acting.",
)
@click.option(
    "--retry-s",
    type=float,
    default=2.0,
    show_default=True,
    callback=_finite,
    help="How often to try to take or renew the lead.",
)
@click.option(
    "--settings",
    "settings_text",
    metavar="FILE|JSON",
    help="Control-loop settings (ControlSettings fields, seconds), a file or inline JSON.",
)
@clock_option
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=9878,
    show_default=True,
    help="Port of the control loop's /metrics (0: no metrics).",
)
@click.option(
    "--metrics-address",
    default="",
    show_default="all interfaces",
    help="Address /metrics listens on (127.0.0.1: this machine only).",
)
def daemon_command(
    redis_url: str,
    prefix: str,
    interval_s: float,
    identity: str | None,
    lease_s: float,
    renew_deadline_s: float,
    retry_s: float,
    settings_text: str | None,
    clock: str,
    metrics_port: int,
    metrics_address: str,
) -> None:
    """Run the autonomous balancer: every interval, while it leads, read the store, decide
    (evacuations, power-on for capacity, relief, balance, energy saving), send the plan to
    the workers and follow it. Run several for high availability: one leads (a lease with
    a fencing epoch), the others take over within the lease when it dies or stalls.

    Example: balancer daemon --redis redis://ctl:6379/0 --interval 60
    """
    from balancer.daemon.dry_run import publish_settings  # noqa: PLC0415
    from balancer.daemon.leader import LeaseTiming  # noqa: PLC0415
    from balancer.daemon.runner import Daemon, DaemonConfig, default_identity  # noqa: PLC0415
    from balancer.metrics.daemon_metrics import DaemonMetrics  # noqa: PLC0415
    from workers.celery_app import make_app  # noqa: PLC0415

    settings = _settings(settings_text)
    timing = LeaseTiming(lease_s=lease_s, renew_deadline_s=renew_deadline_s, retry_s=retry_s)
    keys = Keys(prefix)
    config = DaemonConfig(
        identity=identity or default_identity(), interval_s=interval_s, timing=timing, keys=keys
    ).check()
    client = redis_from_url(redis_url, timeout_s=10)
    the_clock = make_clock(clock, client, keys)
    app = make_app(redis_url)
    metrics = None
    if metrics_port:
        metrics = DaemonMetrics(config.identity, interval_s, settings, the_clock,
                                leading=lambda: daemon.elector.epoch() is not None,
                                client=client, keys=keys)  # fmt: skip
        _serve_metrics(metrics, metrics_port, metrics_address)
    daemon = Daemon(client, app, config, settings, the_clock,
                    on_cycle=None if metrics is None else metrics.on_cycle)  # fmt: skip

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        daemon.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    log.info("daemon %s on %s, every %.0f s", config.identity, redact_url(redis_url), interval_s)
    publish_settings(client, keys, settings)  # what `balancer plan` decides by
    try:
        daemon.run()
    finally:
        app.close()
        client.close()
    sys.exit(0)


def _serve_metrics(metrics: DaemonMetrics, port: int, address: str) -> None:
    from prometheus_client import start_http_server  # noqa: PLC0415

    try:
        start_http_server(port, address, registry=metrics.registry)
    except OSError as exc:
        raise InputError(f"cannot serve metrics on port {port}: {exc.strerror}",
                         "--metrics-port") from None  # fmt: skip
    log.info("control-loop metrics on port %d", port)
