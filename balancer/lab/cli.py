"""``balancer lab``: bring the lab up, look at it, add guests, bring it down.

    balancer lab up --hosts 2
    balancer lab guest add lab-a --name g1 --memory 192 --dirty-rate 16 --working-set 96
    balancer lab status [--json]
    virsh -c "$(balancer lab status --json | jq -r '.hosts[0].uri')" list
    balancer lab down
    balancer lab demo [--json]          (its own lab; balancer/demo/lab_run.py)

The lab's state lives in ``--dir`` (default ``$KVM_BALANCER_LAB_DIR`` or
``/var/lib/kvm-balancer-lab/cli``), so each command picks up what the previous one started.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from balancer.demo.lab_cmd import lab_demo
from balancer.lab.lab import Lab
from balancer.lab.paths import cli_lab_dir
from balancer.lab.requirements import require_lab
from balancer.lab.specs import GUEST_CPU_MODEL, GuestSpec, default_host_specs
from balancer.lab.status import LabStatus


@click.group("lab")
@click.option(
    "--dir",
    "lab_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The lab's state directory [default: $KVM_BALANCER_LAB_DIR or "
    "/var/lib/kvm-balancer-lab/cli].",
)
@click.pass_context
def lab(ctx: click.Context, lab_dir: Path | None) -> None:
    """A libvirt/QEMU test lab on this machine (needs root): hosts and small guests."""
    the_lab = Lab(lab_dir or cli_lab_dir())
    ctx.call_on_close(the_lab.close)
    ctx.obj = the_lab


@lab.command()
@click.option("--hosts", "count", type=click.IntRange(1, 8), default=2, show_default=True)
@click.pass_obj
def up(the_lab: Lab, count: int) -> None:
    """Start COUNT libvirtd hosts (lab-a, lab-b, ...); hosts already up are kept."""
    require_lab()
    the_lab.up(default_host_specs(count))
    _print_status(the_lab.status())


@lab.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (hosts and guests).")
@click.pass_obj
def status(the_lab: Lab, as_json: bool) -> None:
    """Hosts (name, uri, migration address) and guests (name, host, state, console log)."""
    current = the_lab.status()
    if as_json:
        click.echo(json.dumps(current.to_json(), indent=2))
    else:
        _print_status(current)


@lab.command()
@click.pass_obj
def down(the_lab: Lab) -> None:
    """Stop every host and guest of the lab by PID and delete its state."""
    the_lab.down()
    click.echo(f"lab at {the_lab.root} is down")


@lab.group()
def guest() -> None:
    """Add or remove test guests."""


@guest.command("add")
@click.argument("host")
@click.option("--name", required=True)
@click.option("--memory", "memory_mib", type=int, default=192, show_default=True, help="MiB")
@click.option("--dirty-rate", "dirty_rate", type=int, default=0, show_default=True, help="MiB/s")
@click.option("--working-set", "working_set", type=int, default=64, show_default=True, help="MiB")
@click.option("--network", "networks", multiple=True, help="Attach a NIC on this network.")
@click.option("--disk-pool", default=None, help="Give the guest a small disk in this pool.")
@click.option("--disk-check", is_flag=True,
              help="Keep a pattern on the disk and check it (console: kbl-disk …).")  # fmt: skip
@click.option("--cpu-model", default=GUEST_CPU_MODEL, show_default=True, help="Guest CPU model.")
@click.option("--no-start", is_flag=True, help="Only define it (shut off).")
@click.pass_obj
def guest_add(
    the_lab: Lab,
    *,
    host: str,
    name: str,
    memory_mib: int,
    dirty_rate: int,
    working_set: int,
    networks: tuple[str, ...],
    disk_pool: str | None,
    disk_check: bool,
    cpu_model: str,
    no_start: bool,
) -> None:
    """Define (and start) a guest on HOST that dirties memory at a set rate.

    Example: balancer lab guest add lab-a --name g --memory 160 --disk-pool default --disk-check
    """
    spec = GuestSpec(
        name=name,
        memory_mib=memory_mib,
        dirty_rate_mib_s=dirty_rate,
        working_set_mib=working_set,
        networks=networks,
        disk_pool=disk_pool,
        disk_check=disk_check,
        cpu_model=cpu_model,
    )
    made = the_lab.add_guest(host, spec, start=not no_start)
    click.echo(f"guest {name} on {host}; console: {made.console_log}")


@guest.command("remove")
@click.argument("name")
@click.pass_obj
def guest_remove(the_lab: Lab, name: str) -> None:
    """Destroy and undefine guest NAME wherever it is."""
    the_lab.remove_guest(name)
    click.echo(f"guest {name} removed")


def _print_status(current: LabStatus) -> None:
    click.echo(f"lab at {current.root}")
    for h in current.hosts:
        state = "running" if h.running else "NOT RUNNING"
        click.echo(
            f"  host {h.name:8} {state:11} pid {h.pid:<7} migration {h.migration_address}"
            f":{h.migration_ports[0]}-{h.migration_ports[1]}  {h.uri}"
        )
    for g in current.guests:
        click.echo(f"  guest {g.name:12} on {g.host:8} {g.state:8} console {g.console_log}")


lab.add_command(lab_demo)
