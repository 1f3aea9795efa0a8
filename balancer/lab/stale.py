"""Stopping labs whose owner died without stopping them (and whose watchdog failed too).

A lab is ephemeral when its state names an owner process, or when its directory is named
``pytest-<pid>…`` (labs a test makes through the CLI cannot name their owner): it is
stale once that process is gone.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from balancer.lab.errors import LabError
from balancer.lab.lab import Lab
from balancer.lab.paths import labs_root
from balancer.lab.procs import ProcessId
from balancer.lab.state import LabState, load

log = logging.getLogger(__name__)
_TEST_LAB = re.compile(r"^pytest-(\d+)(-|$)")


def is_stale(state: LabState) -> bool:
    if state.owner is not None:
        return not state.owner.is_running()
    named = _TEST_LAB.match(Path(state.root).name)
    return named is not None and ProcessId.of(int(named[1])) is None


def reap_stale_labs(root: Path | None = None) -> list[Path]:
    """Run ``down`` on every ephemeral lab under ``root`` whose owner is not running.

    Housekeeping for labs that are not the caller's: one that cannot be stopped is
    logged (with the reason) and left for its owner to look at, not raised.
    """
    reaped = []
    for state_file in sorted((root or labs_root()).glob("*/lab.json")):
        state = load(state_file.parent)
        if state is None or not is_stale(state):
            continue
        try:
            Lab(state_file.parent).down()
        except LabError:
            log.warning("could not stop the stale lab at %s", state_file.parent, exc_info=True)
        else:
            reaped.append(state_file.parent)
    return reaped
