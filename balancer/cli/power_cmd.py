"""``balancer power on|off HOST``: an operator's power action, through the daemon's rules.

Sent as an operator's action: a ``balancer.power_on``/``power_off`` task (a
``PowerOrder`` with no epoch and reason ``operator``), which the workers carry out with
their own drivers, fenced like any power action (a cancelled order is refused) but not
by leadership: an operator's action does not depend on which daemon leads, as
``balancer migrate`` does not. The worker still refuses a power-off while libvirt lists
a domain on the host.

Checked first (exit 2, nothing sent): the host is known; ``off``: it holds no VM (as the
store's snapshot shows it), it is not off already, no power action on it is in flight;
``on``: it is off (a host in maintenance or draining that was powered off shows its
operator's state with reason ``powered-off``) and not booting already. The daemon's
power rules (minimum on and off times, power-offs per day, boot time; docs/daemon.md,
"Power") are applied by the daemon's memory and settings:
``--force`` overrides them (never the VM rule). The daemon does not count an operator's
action in its budget, and may power a host the operator powered off on again when it
needs the capacity.
"""

from __future__ import annotations

import json
import time
import uuid

import click
import redis
from rich.console import Console

from balancer.cli.options import NAME, prefix_option, redis_option, store_client
from balancer.cli.task_wait import TaskWait, worker_timeout_option
from balancer.control import power_rules
from balancer.control.settings import ControlSettings
from balancer.core.models import Snapshot
from balancer.core.plan import PowerReason
from balancer.errors import InputError, PermanentError
from balancer.state.keys import Keys
from balancer.state.power_records import BOOTING, POWERED_OFF


def check_power(snapshot: Snapshot, host: str, action: str) -> None:
    """The rules that no ``--force`` overrides: a known host, in the right state, empty."""
    h = next((x for x in snapshot.hosts if x.name == host), None)
    if h is None:
        raise InputError(f"unknown host {host!r}: no agent has reported it", "HOST")
    if action == "off":
        vms = sorted(v.name for v in snapshot.vms if v.host == host)
        if vms:
            listed = ", ".join(vms[:5]) + (" ..." if len(vms) > 5 else "")
            raise InputError(
                f"{host} holds {len(vms)} VM(s) ({listed}): empty it first "
                f"(balancer drain {host} --wait)",
                "HOST",
            )
        if h.state == "off" or h.state_reason == POWERED_OFF:
            why = f" ({h.state_reason})" if h.state_reason else ""
            raise InputError(f"{host} is already off{why}", "HOST")
    elif h.state_reason == BOOTING:
        raise InputError(f"{host} is booting: powered on, its agent has not reported yet", "HOST")
    elif h.state != "off" and h.state_reason != POWERED_OFF:
        raise InputError(f"{host} is {h.state}, not off", "HOST")


def check_rules(
    client: redis.Redis, keys: Keys, snapshot: Snapshot, host: str, action: str
) -> None:
    """The daemon's power rules, by its memory and settings (``--force`` skips them)."""
    from balancer.daemon.dry_run import stored_settings  # noqa: PLC0415
    from balancer.daemon.redis_store import RedisCycleStore  # noqa: PLC0415

    settings = stored_settings(client, keys) or ControlSettings()
    now = snapshot.taken_at
    memory = power_rules.advance(RedisCycleStore(client, keys).load(), snapshot, settings)
    rec = memory.power.get(host)
    if action == "off" and not power_rules.may_power_off(memory, host, now, settings):
        if rec is not None and rec.booting_until is not None:
            why = "it is still booting"
        elif rec is not None and rec.last == "on" and now - rec.at < settings.min_on_s:
            why = f"it was powered on {now - rec.at:.0f} s ago (min_on_s {settings.min_on_s:.0f})"
        else:
            why = f"it was powered off {settings.power_cycles_per_day} time(s) in 24 h already"
        raise InputError(
            f"the daemon's power rules keep {host} on: {why} (--force overrides)", "HOST"
        )
    if action == "on" and not power_rules.may_power_on(memory, host, now, settings):
        why = (
            "it is booting"
            if rec is not None and rec.booting_until is not None
            else f"it was powered off less than min_off_s ({settings.min_off_s:.0f} s) ago"
        )
        raise InputError(
            f"the daemon's power rules keep {host} off: {why} (--force overrides)", "HOST"
        )


@click.command("power")
@click.argument("action", type=click.Choice(["on", "off"]))
@click.argument("host", type=NAME)
@click.option("--force", is_flag=True, help="Override the daemon's power rules (never: VMs on it).")
@click.option("--wait", is_flag=True, help="Wait for the worker's result (exit 1 if it fails).")
@worker_timeout_option("action")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@redis_option
@prefix_option
def power_command(
    action: str,
    host: str,
    force: bool,
    wait: bool,
    worker_timeout_s: float,
    as_json: bool,
    redis_url: str,
    prefix: str,
) -> None:
    """Power HOST on or off through a worker's power driver, as the daemon would: refused
    while the host holds VMs, and (unless --force) while the daemon's power rules keep
    it as it is. Prints the task id.

    Examples: balancer power off kvm-07 --wait ; balancer power on kvm-07
    """
    from balancer.daemon.dry_run import daemon_now  # noqa: PLC0415
    from balancer.state.snapshot_read import snapshot_from_redis  # noqa: PLC0415
    from workers.celery_app import make_app, power_priority  # noqa: PLC0415
    from workers.executor.order import PowerOrder, encode  # noqa: PLC0415

    keys = Keys(prefix)
    with store_client(redis_url) as client:
        now = daemon_now(client, keys)
        snapshot = snapshot_from_redis(client, keys=keys, now=now)
        check_power(snapshot, host, action)
        if client.exists(keys.power_lease(host)):
            raise InputError(f"a power action on {host} is under way", "HOST")
        if not force:
            check_rules(client, keys, snapshot, host, action)
        order = PowerOrder(
            id=str(uuid.uuid4()),
            host=host,
            action=action,  # type: ignore[arg-type]
            reason=PowerReason.OPERATOR,
        )
        app = make_app(redis_url)
        try:
            result = app.send_task(
                f"balancer.power_{action}",
                args=[encode(order)],
                task_id=order.id,
                priority=power_priority(order.action, order.reason),
            )
            if not wait:
                click.echo(
                    json.dumps({"id": order.id, "host": host, "action": action})
                    if as_json
                    else order.id
                )
                return
            waiting = TaskWait(result, worker_timeout_s)
            with Console(stderr=True).status(f"power {action} {host}: {waiting.describe()}") as s:
                while not waiting.over():
                    s.update(f"power {action} {host}: {waiting.describe()}")
                    time.sleep(0.3)
            if not result.ready():
                raise waiting.give_up(app, client, keys, f"the power-{action} of {host}")
            outcome = result.get(propagate=False)
        finally:
            app.close()
    if result.failed():
        raise PermanentError(f"power {action} {host} failed: {type(outcome).__name__}: {outcome}")
    click.echo(
        json.dumps({"id": order.id, "host": host, "action": action, "result": outcome})
        if as_json
        else f"{host}: power {action} {outcome}"
    )
    if outcome != "completed":
        raise PermanentError(f"power {action} {host} {outcome}")
