"""``balancer cpu baseline [HOST…]``: the hosts' common CPU, as the guide's 12.4 procedure
computes it (``virsh hypervisor-cpu-baseline`` over each host's host-model CPU), the VMs
it would make movable across all of them, and ``--apply VM…`` to give those VMs that CPU
in their persistent definitions (effective at their next restart).

The hosts are reached as the workers reach them (``BALANCER_LIBVIRT_URIS``); the VMs are
read from the store (``--redis``). Exit status: 0 done; 1 a host or the store could not
be reached; 2 bad input (an unknown host or VM, no URIs).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Any

import click
import libvirt
import redis

from balancer.cli.state_cmds import prefix_option, redis_option
from balancer.core.cpu_baseline import movable_with
from balancer.core.models import GuestCpu, Snapshot
from balancer.errors import InputError, PermanentError, RetryableError
from balancer.state.connect import redact_url, redis_from_url
from balancer.state.keys import Keys
from balancer.state.snapshot_read import snapshot_from_redis
from workers.agent import cpu_baseline
from workers.agent.host_caps import parse_capabilities, parse_cpu_xml
from workers.executor.libvirt_calls import ignore_errors

URIS_ENV = "BALANCER_LIBVIRT_URIS"


@click.group("cpu")
def cpu_group() -> None:
    """Guest CPUs across hosts (the guide's CPU compatibility procedure)."""


def _uris() -> dict[str, str]:
    raw = os.environ.get(URIS_ENV, "")
    if not raw:
        raise InputError(f"set {URIS_ENV} to a JSON object host → libvirt URI "
                         "(how the workers reach the hosts)", URIS_ENV)  # fmt: skip
    try:
        uris = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"not JSON: {exc}", URIS_ENV) from None
    if not isinstance(uris, dict) or not all(isinstance(v, str) for v in uris.values()):
        raise InputError("expected a JSON object host → libvirt URI", URIS_ENV)
    return uris


def _open(host: str, uri: str) -> Any:
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise RetryableError(f"connect {host} ({uri}): {exc.get_error_message()}") from None


def _snapshot(url: str, prefix: str) -> Snapshot:
    client = redis_from_url(url)
    try:
        return snapshot_from_redis(client, keys=Keys(prefix))
    except redis.RedisError as exc:
        raise RetryableError(f"Redis {redact_url(url)}: {exc}") from None
    finally:
        client.close()


def _virt_type(asked: str, snapshot: Snapshot, hosts: list[str], conns: list[Any]) -> str:
    """``auto``: the domain type most of the hosts' VMs run as; without VMs, kvm if every
    host runs kvm domains, else qemu."""
    if asked != "auto":
        return asked
    seen = Counter(vm.cpu.virt_type for vm in snapshot.vms if vm.host in hosts)
    if seen:
        return seen.most_common(1)[0][0]
    kvm = all(parse_capabilities(c.getCapabilities()).kvm for c in conns)
    return "kvm" if kvm else "qemu"


@cpu_group.command("baseline")
@click.argument("hosts", metavar="[HOST]...", nargs=-1)
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: model, vendor, features, xml, movable_vms.")  # fmt: skip
@click.option("--apply", "apply_to", metavar="VM", multiple=True,
              help="Give VM the baseline CPU in its definition (repeatable).")  # fmt: skip
@click.option("--virt-type", type=click.Choice(["auto", "kvm", "qemu"]), default="auto",
              show_default=True, help="Domain type to baseline for (auto: the VMs').")  # fmt: skip
@redis_option
@prefix_option
def baseline_command(hosts: tuple[str, ...], as_json: bool, apply_to: tuple[str, ...],
                     virt_type: str, redis_url: str, prefix: str) -> None:  # fmt: skip
    """The common CPU of HOSTs (default: every host in BALANCER_LIBVIRT_URIS), the VMs it
    would make movable across all of them, and --apply VM to give VMs that CPU.

    \b
    Example:
      export BALANCER_LIBVIRT_URIS='{"kvm-01": "qemu+tls://kvm-01/system",
                                     "kvm-02": "qemu+tls://kvm-02/system"}'
      balancer cpu baseline kvm-01 kvm-02 --json
      balancer cpu baseline kvm-01 kvm-02 --apply web-1
    """
    uris = _uris()
    names = list(hosts) or sorted(uris)
    unknown = [h for h in names if h not in uris]
    if unknown:
        raise InputError(f"no URI for {', '.join(unknown)} in {URIS_ENV} "
                         f"(known: {', '.join(sorted(uris))})", "HOST")  # fmt: skip
    if len(names) < 2:
        raise InputError("name at least two hosts", "HOST")
    snapshot = _snapshot(redis_url, prefix)
    where = {vm.name: vm.host for vm in snapshot.vms}
    strays = [vm for vm in apply_to if where.get(vm) not in names]
    if strays:
        raise InputError(f"not on {', '.join(names)} in the store: {', '.join(strays)}", "--apply")
    libvirt.registerErrorHandler(ignore_errors, None)
    conns = [_open(h, uris[h]) for h in names]
    try:
        virt = _virt_type(virt_type, snapshot, names, conns)
        try:
            xml = cpu_baseline.baseline(conns, virt)
        except libvirt.libvirtError as exc:
            raise PermanentError(f"baselineHypervisorCPU on {names[0]}: "
                                 f"{exc.get_error_message()}") from None  # fmt: skip
        cpu = parse_cpu_xml(xml)
        guest = GuestCpu(vendor=cpu.vendor or "unknown", model=cpu.model or "unknown",
                         features=cpu.features, virt_type=virt)  # fmt: skip
        movable = movable_with(snapshot, names, guest)
        applied = [_apply(conns[names.index(where[vm])], vm, where[vm], xml) for vm in apply_to]
    finally:
        for c in conns:
            c.close()
    if as_json:
        out = {"model": cpu.model, "vendor": cpu.vendor, "features": list(cpu.features),
               "xml": xml, "movable_vms": movable}  # fmt: skip
        click.echo(json.dumps(out, indent=2))
    else:
        _print(names, virt, cpu.model, cpu.vendor, cpu.features, xml, movable)
    for line in applied:
        click.echo(line, err=as_json)


def _apply(conn: Any, vm: str, host: str, xml: str) -> str:
    try:
        running = cpu_baseline.apply(conn, vm, xml)
    except libvirt.libvirtError as exc:
        raise PermanentError(f"define {vm} on {host}: {exc.get_error_message()}") from None
    when = ("effective at its next restart (it runs with its current CPU until then)"
            if running else "effective when it next starts")  # fmt: skip
    return f"{vm}: persistent definition on {host} updated with the baseline CPU; {when}"


def _print(hosts: list[str], virt: str, model: str | None, vendor: str | None,
           features: tuple[str, ...], xml: str, movable: list[str]) -> None:  # fmt: skip
    click.echo(f"baseline of {', '.join(hosts)} ({virt} domains): {vendor} {model}, "
               f"{len(features)} features required")  # fmt: skip
    sys.stdout.write(xml if xml.endswith("\n") else xml + "\n")
    if movable:
        click.echo(f"movable across all of them with it: {', '.join(movable)} "
                   "(--apply VM to give a VM this CPU; effective at its next restart)")  # fmt: skip
    else:
        click.echo("no VM on these hosts is held back by its CPU")
