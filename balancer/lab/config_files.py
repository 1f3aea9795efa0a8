"""The two configuration files that make one libvirtd a separate "host".

libvirtd.conf gives it its own host UUID (libvirt refuses to migrate to a host with the
same UUID) and an unauthenticated UNIX socket. qemu.conf runs QEMU as root without
security labels, private /dev or cgroups (with cgroups on, two daemons put their first
guest in the same ``machine/qemu-1-…`` cgroup), writes consoles and logs to plain files
(there is no virtlogd), and gives the host its own migration address and port range.
"""

from __future__ import annotations

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


def qemu_conf(slot: Slot) -> str:
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
            "",
        ]
    )
