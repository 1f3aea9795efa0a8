"""Linux bridges of lab networks: created by libvirtd, deleted by name if it died.

libvirt removes a network's bridge when the network is stopped, but a daemon that is
killed leaves it. Names are ``kbl<slot>n<i>`` (at most 15 characters), so the bridges of
one slot can be found and deleted without touching anything else on the machine.
"""

from __future__ import annotations

import os
import subprocess

_SYS_NET = "/sys/class/net"
IP = "/sbin/ip"


def exists(name: str) -> bool:
    return os.path.exists(os.path.join(_SYS_NET, name))


def with_prefix(prefix: str) -> list[str]:
    try:
        return sorted(n for n in os.listdir(_SYS_NET) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def delete(name: str) -> None:
    if exists(name):
        subprocess.run([IP, "link", "delete", name], check=False, capture_output=True)


def delete_with_prefix(prefix: str) -> None:
    for name in with_prefix(prefix):
        delete(name)
