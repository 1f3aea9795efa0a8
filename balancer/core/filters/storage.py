"""Disks: live and non-live migration need every disk on storage both hosts share
(a pool the destination mounts, marked shared); a shut-off VM may move offline to a host
that has the pool, its unshared disks then copied (guide table 12.1)."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


class StorageFilter:
    NAME: ClassVar[str] = "storage"
    KIND: ClassVar[FilterKind] = "host"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        pools = set(dest.storage_pools)
        for disk in vm.disks:
            if disk.pool not in pools:
                return Verdict.reject(
                    Reason.STORAGE_POOL, f"{dest.name} does not mount pool {disk.pool}"
                )
            if not disk.shared and vm.state != "shutoff":
                return Verdict.reject(
                    Reason.STORAGE_NOT_SHARED,
                    f"disk on pool {disk.pool} is not shared; a {vm.state} VM needs shared "
                    "storage (shut it off to move it offline with a disk copy)",
                )
        return PASS


def copy_bytes(vm: Vm) -> int:
    """Bytes an offline migration must copy: the disks not on shared storage."""
    return sum(d.bytes for d in vm.disks if not d.shared)
