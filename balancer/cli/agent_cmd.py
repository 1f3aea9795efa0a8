"""``balancer agent`` (also the ``balancer-agent`` program): the per-host agent.

Give the Redis URL in ``BALANCER_REDIS_URL`` rather than ``--redis`` to keep a password
out of the process list; it is never logged either way.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from urllib.parse import urlsplit

import click

from balancer.cli.options import NAME, Finite
from balancer.core.models import Power
from balancer.errors import BalancerError, InputError
from balancer.state.connect import DEFAULT_URL
from balancer.state.keys import DEFAULT_PREFIX
from workers.agent.runner import Agent, AgentOptions

log = logging.getLogger(__name__)


def check_migration_uri(value: str | None) -> str | None:
    """A libvirt migration URI: ``tcp://host[:port]`` or ``rdma://host[:port]``."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("tcp", "rdma") or not parts.hostname:
        raise click.BadParameter(f"{value!r}: expected tcp://HOST[:PORT] (or rdma://)")
    return value


def parse_power(value: str | None) -> Power | None:
    """``IDLE:MAX`` watts, idle at most max."""
    if value is None:
        return None
    idle, _, peak = value.partition(":")
    try:
        idle_w, max_w = float(idle), float(peak)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected IDLE:MAX watts, e.g. 100:250") from None
    if not 0 <= idle_w <= max_w < 1e6:
        raise click.BadParameter(f"{value!r}: expected 0 <= IDLE <= MAX watts")
    return Power(idle_w=idle_w, max_w=max_w)


@click.command("agent")
@click.option(
    "--libvirt-uri",
    required=True,
    envvar="BALANCER_LIBVIRT_URI",
    help="libvirt connection to report (qemu:///system; session URIs refused).",
)
@click.option(
    "--redis",
    "redis_url",
    envvar="BALANCER_REDIS_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="redis://, rediss:// (TLS) or unix:// URL [env BALANCER_REDIS_URL].",
)
@click.option(
    "--host-name", type=NAME, help="Name of this host in the cluster [libvirt's hostname]."
)
@click.option(
    "--advertise-uri", help="libvirt URI other hosts use to reach this one [--libvirt-uri]."
)
@click.option(
    "--interval",
    type=Finite(0.05, 86400.0),
    default=10.0,
    show_default=True,
    help="Seconds between reports.",
)
@click.option(
    "--ttl", type=Finite(0.1, 30 * 86400.0), help="Heartbeat lifetime in seconds [3 intervals]."
)
@click.option(
    "--virt-type",
    type=click.Choice(["auto", "kvm", "qemu"]),
    default="auto",
    show_default=True,
    help="Domain type whose capabilities to report.",
)
@click.option(
    "--shared-pool",
    "shared_pools",
    multiple=True,
    metavar="POOL",
    help="Report this storage pool as shared (repeatable): for a dir pool on a cluster "
    "filesystem the mount table does not reveal.",
)
@click.option(
    "--migration-uri",
    callback=lambda _c, _p, v: check_migration_uri(v),
    help="Where other hosts send migration data to this one: a dedicated network, "
    "e.g. tcp://10.1.0.12 [libvirt's default: the host's own address].",
)
@click.option(
    "--usage-from-vms",
    is_flag=True,
    help="Report the host's CPU use as the sum of its VMs' (hosts that share one machine, "
    "like the lab's: the machine's own load is then not counted).",
)
@click.option(
    "--power-w",
    callback=lambda _c, _p, v: parse_power(v),
    metavar="IDLE:MAX",
    help="The host's power draw in watts, idle and at full CPU (from its spec sheet), "
    "e.g. 100:250: energy saving prices drains by it [default: unknown].",
)
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, help="Key prefix in Redis.")
@click.option("--once", is_flag=True, help="Publish one report and exit 0 (a scriptable check).")
def agent_command(
    *,
    libvirt_uri: str,
    redis_url: str,
    host_name: str | None,
    advertise_uri: str | None,
    interval: float,
    ttl: float | None,
    virt_type: str,
    shared_pools: tuple[str, ...],
    migration_uri: str | None,
    usage_from_vms: bool,
    power_w: Power | None,
    prefix: str,
    once: bool,
) -> None:
    """Report this host's facts and its VMs to Redis every INTERVAL seconds.

    Example: BALANCER_REDIS_URL=rediss://agent:…@redis:6379/0 balancer agent
    --libvirt-uri qemu:///system --interval 10
    """
    options = AgentOptions(
        libvirt_uri=libvirt_uri,
        redis_url=redis_url,
        host_name=host_name,
        advertise_uri=advertise_uri,
        interval_s=interval,
        ttl_s=ttl,
        virt_type=virt_type,
        shared_pools=frozenset(shared_pools),
        migration_uri=migration_uri or "",
        usage_from_vms=usage_from_vms,
        power=power_w,
        prefix=prefix,
    )
    agent = Agent(options)
    try:
        if once:
            report = agent.run_once()
            click.echo(
                f"published {report.host.name}: {len(report.vms)} VMs, generation "
                f"{agent.generation}"
                + (f"; skipped: {'; '.join(report.skipped)}" if report.skipped else "")
            )
            return
        stop = threading.Event()

        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: stopping", signum)
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        agent.run(stop)
    finally:
        agent.close()


def standalone() -> None:
    """The ``balancer-agent`` program: the same command, logging at INFO."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        agent_command.main(prog_name="balancer-agent", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.exit(1)
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except BalancerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
