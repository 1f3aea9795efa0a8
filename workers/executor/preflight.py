"""Preflight: everything checked before a migration starts, on live connections. Any
failure is a ``PreflightError`` (permanent) and nothing has been started.

- the VM is on the source in the expected state (offline moves: shut off), not on the
  destination;
- the destination answers and accepts the guest CPU (``compareHypervisorCPU``);
- storage still fits: every pool holding one of the VM's disks is active on the
  destination, and is one the plan counted as shared — unless the move is offline with
  its disks copied; a network disk in no pool (rbd, gluster, …) only if the plan counted
  it shared, a file in no pool only if it lies on a mount the plan counted shared
  (``mount:<point>``, the agent's name; libvirt cannot show the destination's mounts);
- networks still fit: every libvirt network the VM is on is active on the destination.
"""

from __future__ import annotations

import posixpath

from balancer.errors import BusyError, PreflightError
from workers.executor.hypervisor import Attachments, Domain, HostResources
from workers.executor.move import Deps, Move
from workers.executor.order import MigrationOrder

SLOT_POLL_S = 0.2


def preflight(deps: Deps, order: MigrationOrder, src: Domain, dst: Domain | None) -> None:
    if dst is not None:
        raise PreflightError(f"{order.vm} is defined on both {order.source} and {order.dest}")
    want = "shutoff" if order.mode == "offline" else order.expected_state
    if src.state != want:
        raise PreflightError(f"{order.vm} is {src.state} on {order.source}, expected {want}")
    deps.hv.domains(order.dest)  # the destination answers on a live connection
    if not deps.hv.accepts_cpu(order.vm, order.source, order.dest):
        raise PreflightError(f"{order.dest} does not accept the CPU of {order.vm}")
    needs = deps.hv.attachments(order.source, order.vm)
    problems = fit_problems(order, needs, deps.hv.resources(order.dest))
    if problems:
        raise PreflightError(f"{order.vm} cannot move to {order.dest}: " + "; ".join(problems))


def fit_problems(order: MigrationOrder, needs: Attachments, dest: HostResources) -> list[str]:
    """What of the VM's storage and networks the destination does not provide (pure)."""
    out: list[str] = []
    copying = order.mode == "offline" and order.copy_storage
    for pool in needs.pools:
        if pool not in dest.pools:
            out.append(f"storage pool {pool} is not active on {order.dest}")
        elif pool not in order.shared_pools and not copying:
            out.append(
                f"storage pool {pool} was not planned as shared storage "
                f"(a {order.mode} move needs it shared, or offline with its disks copied)"
            )
    for disk in needs.remote_disks:
        if disk not in order.shared_pools:
            out.append(f"network disk {disk} was not planned as reachable from {order.dest}")
    for path in needs.unpooled:
        if not any(_under(path, p) for p in order.shared_pools):
            out.append(f"disk {path} is in no storage pool and on no shared mount of the plan")
    out += [
        f"network {net} is not active on {order.dest}"
        for net in needs.networks
        if net not in dest.networks
    ]
    return out


def _under(path: str, pool: str) -> bool:
    """Whether ``path`` lies below the mount point named by a ``mount:<point>`` pool."""
    point = pool.removeprefix("mount:")
    if point == pool or not point.startswith("/"):
        return False
    root = posixpath.normpath(point)
    return root == "/" or posixpath.normpath(path).startswith(root.rstrip("/") + "/")


def take_slots(deps: Deps, m: Move, wait_s: float) -> None:
    """Outbound, inbound and cluster slots, all or none; wait up to ``wait_s`` for them,
    keeping the VM's lease meanwhile (the wait is counted for the exporter)."""
    order, lease = m.order, deps.fence.keys.lease(m.order.vm)
    began = deps.clock()
    deadline = began + wait_s
    while True:
        try:
            deps.slots.acquire_slots(order.source, order.dest, m.token, order.slots)
            deps.slots.count_wait(deps.clock() - began, got=True)
            return
        except BusyError:
            if deps.clock() >= deadline:
                deps.slots.count_wait(deps.clock() - began, got=False)
                raise
            deps.sleep(SLOT_POLL_S)
            other = deps.fence.renew(lease, m.ticket)
            if other is not None:
                raise BusyError(f"{order.vm}: the lease went to another task ({other})") from None
