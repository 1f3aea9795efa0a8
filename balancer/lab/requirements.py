"""What the lab needs on this machine, and how to get it when something is missing."""

from __future__ import annotations

import os

from balancer.lab.artifacts import GuestArtifacts
from balancer.lab.bridges import IP
from balancer.lab.daemon import LIBVIRTD, MOUNT, SETSID, UNSHARE
from balancer.lab.domain_xml import EMULATOR
from balancer.lab.errors import LabUnavailableError

HOW_TO_RUN = (
    "the lab needs root and its set-up: run `sudo make lab-setup`, then "
    "`sudo .venv/bin/pytest -m lab` (or `sudo make test`)"
)


def lab_problems() -> list[str]:
    """Everything that keeps the lab from running here; empty when it can run."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not running as root")
    for path in (LIBVIRTD, EMULATOR, MOUNT, SETSID, UNSHARE, IP):
        if not os.access(path, os.X_OK):
            problems.append(f"{path} is not installed")
    try:
        GuestArtifacts.from_cache()
    except LabUnavailableError as exc:
        problems.append(str(exc))
    return problems


def require_lab() -> None:
    """Raise ``LabUnavailableError`` naming every missing piece, or return."""
    problems = lab_problems()
    if problems:
        raise LabUnavailableError("; ".join(problems) + f" ({HOW_TO_RUN})")
