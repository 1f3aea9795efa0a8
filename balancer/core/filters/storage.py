"""Disks: live and non-live migration keep a disk in place when it is on storage both
hosts share (a pool the destination mounts, marked shared); a disk on a host-local pool
is copied to the same pool on the destination — live with libvirt's storage migration
(``--copy-storage-all``), offline through storage volume streams — when the policy allows
storage copies and the VM's unshared disks fit its size limit (guide table 12.1 and 12.6).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import PASS, Reason, Verdict

GIB = 1024**3


def pools(host: Host, policy: Policy) -> frozenset[str]:
    return frozenset(host.storage_pools)


class StorageFilter:
    NAME: ClassVar[str] = "storage"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(vm=("disks",), dest=(pools,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        pools = set(dest.storage_pools)
        for disk in vm.disks:
            if disk.pool not in pools:
                return Verdict.reject(
                    Reason.STORAGE_POOL, f"{dest.name} does not mount pool {disk.pool}"
                )
        refusal = copy_refusal(vm, ctx.policy)
        if refusal:
            return Verdict.reject(Reason.STORAGE_NOT_SHARED, refusal)
        return PASS


def copy_bytes(vm: Vm) -> int:
    """Bytes a migration must copy besides memory: the disks not on shared storage."""
    return sum(d.bytes for d in vm.disks if not d.shared)


def copies_storage(vm: Vm) -> bool:
    """Whether moving ``vm`` copies disks (some are on storage no other host shares)."""
    return any(not d.shared for d in vm.disks)


def copy_refusal(vm: Vm, policy: Policy) -> str:
    """Why the VM's unshared disks may not be copied ("" when they may, or there are none)."""
    if not copies_storage(vm):
        return ""
    pools = ", ".join(sorted({d.pool for d in vm.disks if not d.shared}))
    if not policy.allow_storage_copy:
        return f"disk on pool {pools} is not shared and the policy forbids storage copies"
    size = copy_bytes(vm)
    if size > policy.storage_copy_max_gib * GIB:
        return (f"disk on pool {pools} is not shared and its {size / GIB:.1f} GiB exceed the "
                f"policy's storage copy limit ({policy.storage_copy_max_gib:g} GiB)")  # fmt: skip
    return ""
