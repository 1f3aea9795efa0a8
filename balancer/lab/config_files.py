"""The two configuration files that make one libvirtd a separate "host".

libvirtd.conf gives it its own host UUID (libvirt refuses to migrate to a host with the
same UUID) and an unauthenticated UNIX socket. qemu.conf runs QEMU as root without
security labels, private /dev or cgroups (with cgroups on, two daemons put their first
guest in the same ``machine/qemu-1-…`` cgroup), writes consoles and logs to plain files
(there is no virtlogd), and gives the host its own migration address and port range,
its TLS certificates for ``VIR_MIGRATE_TLS`` (``balancer.lab.tls``) and the paths where
it sees the lab's shared storage (``shared_filesystems``: a plain directory libvirt would
otherwise take for local storage and refuse to migrate a disk on it without
``VIR_MIGRATE_UNSAFE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from balancer.lab.slots import Slot


def libvirtd_conf(host_uuid: str) -> str:
    return "\n".join(
        [
            f'host_uuid = "{host_uuid}"',
            'auth_unix_rw = "none"',
            'auth_unix_ro = "none"',
            'unix_sock_rw_perms = "0700"',
            'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"',
            "",
        ]
    )


def _strings(values: Sequence[str]) -> str:
    return "[ " + ", ".join(f'"{v}"' for v in values) + " ]"


def qemu_conf(slot: Slot, shared_paths: Sequence[str] = (), tls_dir: Path | None = None) -> str:
    extra = [f"shared_filesystems = {_strings(shared_paths)}"] if shared_paths else []
    if tls_dir is not None:
        extra += [f'migrate_tls_x509_cert_dir = "{tls_dir}"', "migrate_tls_x509_verify = 1"]
    return "\n".join(
        [
            'user = "root"',
            'group = "root"',
            "dynamic_ownership = 0",
            "remember_owner = 0",
            'security_driver = "none"',
            "namespaces = [ ]",
            "cgroup_controllers = [ ]",
            'stdio_handler = "file"',
            f'migration_address = "{slot.migration_address}"',
            f'migration_host = "{slot.migration_address}"',
            f"migration_port_min = {slot.port_min}",
            f"migration_port_max = {slot.port_max}",
            *extra,
            "",
        ]
    )
