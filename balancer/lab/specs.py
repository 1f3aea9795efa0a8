"""What to build: lab hosts (their pools and networks) and test guests.

Hosts differ the way real hosts do, so placement filters meet real differences:

    lab-a   pools default, shared   networks lab-net, backup-net
    lab-b   pools default, shared   networks lab-net       (sees shared under another path)
    lab-c   pools default           networks other-net     (the island)
    lab-d…  like lab-b

``shared`` is one directory seen by every host (shared storage); lab-b sees it at
``pools/shared-b`` and not at ``pools/shared`` (a host with a different path to the same
storage, what the guide's ``--xml`` procedure is for); ``default`` is private to each
host (its own ``/var/lib/libvirt/images``). All lab hosts run on the same CPU, so
CPU differences come from what TCG can emulate: ``Westmere`` is usable, ``EPYC-Rome`` or
the ``avx512f`` feature are not.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from balancer.errors import InputError

#: A named CPU model that QEMU's TCG provides (never host-model/host-passthrough).
GUEST_CPU_MODEL = "Westmere"
#: Memory the guest kernel and init need besides the working set.
GUEST_BASE_MIB = 64
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def _check_name(value: str, path: str) -> None:
    if not _NAME.match(value):
        raise InputError(f"{value!r} is not a lab name ([a-z][a-z0-9-]{{0,30}})", path)


@dataclass(frozen=True)
class PoolSpec:
    """A ``dir`` storage pool: ``shared`` pools point at one directory for all hosts.
    ``view``: this host sees that directory as ``pools/<view>`` (``pools/<name>`` hidden)."""

    name: str
    shared: bool = False
    view: str | None = None


@dataclass(frozen=True)
class HostSpec:
    name: str
    pools: tuple[PoolSpec, ...] = (PoolSpec("default"),)
    networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name(self.name, "host.name")
        for net in self.networks:
            _check_name(net, "host.networks")


@dataclass(frozen=True)
class GuestSpec:
    """A disk-less guest whose init dirties ``working_set_mib`` at ``dirty_rate_mib_s``."""

    name: str
    memory_mib: int = 192
    dirty_rate_mib_s: int = 0
    working_set_mib: int = 64
    vcpus: int = 1
    cpu_model: str = GUEST_CPU_MODEL
    cpu_features: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    disk_pool: str | None = None
    #: The disk as ``<disk type='file'>`` with the volume's path (else ``type='volume'``).
    disk_file: bool = False
    #: Boot the disk-checking guest (``deploy/lab/guest-disk.c``): it keeps a pattern on
    #: its disk and reports each check on the console (``kbl-disk …``).
    disk_check: bool = False
    disk_mib: int = 4
    tick_ms: int = 250
    #: A second serial port (a pty) the host sends commands to: ``cpu N`` makes the guest
    #: burn N % of its vCPU (``balancer.lab.guest_load``, ``deploy/lab/guest-init.c``).
    commands: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name, "guest.name")
        if not 96 <= self.memory_mib <= 4096:
            raise InputError("must be between 96 and 4096", "guest.memory_mib")
        if self.dirty_rate_mib_s < 0:
            raise InputError("must not be negative", "guest.dirty_rate_mib_s")
        if not 1 <= self.working_set_mib <= self.memory_mib - GUEST_BASE_MIB:
            raise InputError(
                f"must be between 1 and memory - {GUEST_BASE_MIB} MiB "
                f"({self.memory_mib - GUEST_BASE_MIB})",
                "guest.working_set_mib",
            )
        if not 1 <= self.vcpus <= 2:
            raise InputError("must be 1 or 2", "guest.vcpus")
        if self.tick_ms < 10:
            raise InputError("must be at least 10", "guest.tick_ms")
        if (self.disk_check or self.disk_file) and self.disk_pool is None:
            raise InputError("needs a disk (disk_pool)", "guest.disk_check")
        if not 1 <= self.disk_mib <= 1024:
            raise InputError("must be between 1 and 1024", "guest.disk_mib")


def default_host_specs(count: int) -> tuple[HostSpec, ...]:
    """The first ``count`` hosts of the standard lab (see the module docstring)."""
    if not 1 <= count <= len(string.ascii_lowercase):
        raise InputError(f"must be between 1 and {len(string.ascii_lowercase)}", "hosts")
    return tuple(host_spec_for(i) for i in range(count))


def host_spec_for(index: int) -> HostSpec:
    name = f"lab-{string.ascii_lowercase[index]}"
    local, shared = PoolSpec("default"), PoolSpec("shared", shared=True)
    if index == 0:
        return HostSpec(name, (local, shared), ("lab-net", "backup-net"))
    if index == 1:
        return HostSpec(
            name, (local, PoolSpec("shared", shared=True, view="shared-b")), ("lab-net",)
        )
    if index == 2:
        return HostSpec(name, (local,), ("other-net",))
    return HostSpec(name, (local, shared), ("lab-net",))
