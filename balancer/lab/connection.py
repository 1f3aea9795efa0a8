"""Opening libvirt connections to lab hosts.

libvirt-python prints every error to stderr by default as well as raising it; the lab
turns the printing off (once, process-wide) so test output shows only what matters.
Exceptions are unchanged.
"""

from __future__ import annotations

from typing import Any

import libvirt

_quiet = False


def _ignore(_ctx: object, _err: object) -> None:
    return None


def quiet_libvirt() -> None:
    global _quiet  # noqa: PLW0603 - one process-wide switch
    if not _quiet:
        libvirt.registerErrorHandler(_ignore, None)
        _quiet = True


def connect(uri: str) -> Any:
    """A read-write connection (``virConnect``) to ``uri``; the caller closes it."""
    quiet_libvirt()
    return libvirt.open(uri)
