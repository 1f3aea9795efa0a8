"""Where the lab keeps its state, its build cache and its machine-wide slot registry.

Each but the last can be moved with an environment variable (read at call time):

    KVM_BALANCER_LAB_ROOT    parent of every lab's state dir   /var/lib/kvm-balancer-lab
    KVM_BALANCER_LAB_DIR     the CLI's lab                     $ROOT/cli
    KVM_BALANCER_LAB_CACHE   guest kernel/initramfs, caps      /var/cache/kvm-balancer-lab
    (fixed)                  slot claims shared by all labs    /run/kvm-balancer-lab/slots

A lab's state dir must not lie under a directory the daemons bind-mount over
(``/etc/libvirt``, ``/run/libvirt``, ``/var/lib/libvirt``, ...): both the daemons and the
clients outside their namespaces reach sockets, consoles and the shared pool through it.
"""

from __future__ import annotations

import os
from pathlib import Path


def labs_root() -> Path:
    return Path(os.environ.get("KVM_BALANCER_LAB_ROOT", "/var/lib/kvm-balancer-lab"))


def cli_lab_dir() -> Path:
    return Path(os.environ.get("KVM_BALANCER_LAB_DIR", str(labs_root() / "cli")))


def cache_dir() -> Path:
    return Path(os.environ.get("KVM_BALANCER_LAB_CACHE", "/var/cache/kvm-balancer-lab"))


def slots_dir() -> Path:
    """Slot claims of every lab on the machine. Deliberately not movable: a second
    registry would hand out addresses, ports and bridge names that are already in use
    (and a claim deletes the bridges of the slot it takes)."""
    return Path("/run/kvm-balancer-lab/slots")
