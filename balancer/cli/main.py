"""``balancer``: the operator's command line.

Exit codes, for every command: 0 done; 1 the action failed (a migration failed, the
store is unreachable); 2 bad input — a one-line message naming the option, field or name
at fault, and nothing written; 3 could not complete (VMs stay on a host to be emptied, a
wait ran out). An expected error never prints a traceback.
"""

from __future__ import annotations

import logging
import os
import sys

import click
import redis

from balancer import __version__
from balancer.cli.acl_cmd import acl_group
from balancer.cli.agent_cmd import agent_command
from balancer.cli.control_cmds import pause_command, resume_command, status_command
from balancer.cli.cpu_cmd import cpu_group
from balancer.cli.daemon_cmd import daemon_command
from balancer.cli.demo_cmd import demo_command
from balancer.cli.evacuation_cmds import (
    cancel_command,
    drain_command,
    evacuate_command,
    evacuations_command,
    undrain_command,
)
from balancer.cli.executor_cmds import execute_command, worker_command
from balancer.cli.explain_cmd import explain_command
from balancer.cli.exporter_cmd import exporter_command
from balancer.cli.fleet_cmd import fleet_group
from balancer.cli.migrate_cmd import migrate_command
from balancer.cli.migrations_cmd import migrations_command
from balancer.cli.operator_cmds import host_group, vm_group
from balancer.cli.plan_cmd import plan_command
from balancer.cli.power_cmd import power_command
from balancer.cli.rules_cmds import policy_group, rules_group
from balancer.cli.sim_cmd import sim_group
from balancer.cli.snapshot_cmd import snapshot_group
from balancer.cli.state_cmds import export_command, hosts_command, vms_command
from balancer.cli.text import shown
from balancer.errors import BalancerError, IncompleteError, InputError
from balancer.lab.cli import lab
from balancer.state.connect import INSECURE_ENV

EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_INCOMPLETE = 3


class BalancerGroup(click.Group):
    """Turns our errors into one line on stderr and an exit code, never a traceback; a
    name quoted in a message has its control characters escaped (it may come from a
    document or the store)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a bad option of a command: one line, exit 2
            where = exc.ctx.command_path if exc.ctx is not None else "balancer"
            click.echo(f"error: {shown(exc.format_message())} (see '{where} --help')", err=True)
            ctx.exit(EXIT_INPUT)
        except InputError as exc:
            click.echo(f"error: {shown(str(exc))}", err=True)
            ctx.exit(EXIT_INPUT)
        except IncompleteError as exc:
            click.echo(f"error: {shown(str(exc))}", err=True)
            ctx.exit(EXIT_INCOMPLETE)
        except BalancerError as exc:
            click.echo(f"error: {shown(str(exc))}", err=True)
            ctx.exit(EXIT_FAILED)
        except redis.RedisError as exc:
            click.echo(f"error: Redis: {shown(str(exc))}", err=True)
            ctx.exit(EXIT_FAILED)


@click.group(cls=BalancerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="balancer")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.option(
    "--insecure",
    is_flag=True,
    help="Accept rediss:// URLs that do not verify the server's certificate "
    "(ssl_cert_reqs=none, ssl_check_hostname=false); logged as a warning at every start.",
)
def main(verbose: int, insecure: bool) -> None:
    """kvm-balancer: plan and run VM migrations across KVM/libvirt hosts."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if insecure:  # in the environment: the processes a command starts inherit it
        os.environ[INSECURE_ENV] = "1"


main.add_command(acl_group)
main.add_command(plan_command)
main.add_command(snapshot_group)
main.add_command(sim_group)
main.add_command(agent_command)
main.add_command(hosts_command)
main.add_command(vms_command)
for _group in (host_group, vm_group, rules_group, policy_group):
    main.add_command(_group)
main.add_command(worker_command)
main.add_command(execute_command)
main.add_command(migrate_command)
main.add_command(migrations_command)
main.add_command(lab)
main.add_command(fleet_group)
for _command in (
    daemon_command,
    status_command,
    pause_command,
    resume_command,
    evacuate_command,
    evacuations_command,
    cancel_command,
    drain_command,
    undrain_command,
    power_command,
    explain_command,
    demo_command,
    exporter_command,
):
    main.add_command(_command)
main.add_command(cpu_group)
snapshot_group.add_command(export_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
