"""Machine-wide slots: one per running lab host, whatever lab (CLI, pytest) it belongs to.

Slot ``k`` owns the migration address ``127.0.0.(10+k)`` (libvirt rejects 127.0.0.1, the
rest of 127/8 is loopback too), a second one for a dedicated migration network,
``127.0.1.(10+k)``, the migration ports ``61000+16k … +15`` (above Linux's ephemeral
range) and the bridge names ``kbl<k>n*``. A claim is a small JSON file naming
the owning process (PID and start time); a claim whose owner is gone is stale and may be
taken again, after deleting the bridges a killed daemon left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from balancer.lab import bridges
from balancer.lab.errors import LabError
from balancer.lab.paths import slots_dir
from balancer.lab.procs import ProcessId

MAX_SLOTS = 64


@dataclass(frozen=True)
class Slot:
    index: int

    @property
    def migration_address(self) -> str:
        return f"127.0.0.{10 + self.index}"

    @property
    def dedicated_address(self) -> str:
        """A second address of the host: its "dedicated migration network"."""
        return f"127.0.1.{10 + self.index}"

    @property
    def port_min(self) -> int:
        return 61000 + 16 * self.index

    @property
    def port_max(self) -> int:
        return self.port_min + 15

    @property
    def bridge_prefix(self) -> str:
        return f"kbl{self.index}n"

    def path(self) -> Path:
        return slots_dir() / f"slot-{self.index}.json"


@contextlib.contextmanager
def _registry_lock() -> Iterator[None]:
    slots_dir().mkdir(parents=True, exist_ok=True)
    with open(slots_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _owner(slot: Slot) -> ProcessId | None:
    try:
        data = json.loads(slot.path().read_text())
        return ProcessId(int(data["pid"]), int(data["start_ticks"]))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def _write(slot: Slot, owner: ProcessId, label: str) -> None:
    tmp = slot.path().with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": owner.pid, "start_ticks": owner.start_ticks, "for": label}))
    os.replace(tmp, slot.path())


def claim(label: str) -> Slot:
    """Take the lowest free slot for the calling process; ``label`` says who took it."""
    me = ProcessId.of(os.getpid())
    assert me is not None
    with _registry_lock():
        for index in range(MAX_SLOTS):
            slot = Slot(index)
            owner = _owner(slot)
            if owner is None or not owner.is_running():
                bridges.delete_with_prefix(slot.bridge_prefix)
                _write(slot, me, label)
                return slot
    raise LabError(f"all {MAX_SLOTS} lab slots are taken (see {slots_dir()})")


def hand_over(slot: Slot, owner: ProcessId, label: str) -> None:
    """Make ``owner`` (the started daemon) the process that keeps the slot taken."""
    with _registry_lock():
        _write(slot, owner, label)


def owned_by(slot: Slot, owner: ProcessId) -> bool:
    """Whether ``slot`` is still ``owner``'s: no live process other than it claims it."""
    current = _owner(slot)
    return current is None or current == owner or not current.is_running()


def release(slot: Slot, owner: ProcessId) -> list[str]:
    """Delete the slot's bridges and free it, unless a live process other than ``owner``
    has claimed it since; return the bridges that could not be deleted."""
    with _registry_lock():
        if not owned_by(slot, owner):
            return []
        bridges.delete_with_prefix(slot.bridge_prefix)
        slot.path().unlink(missing_ok=True)
        return bridges.with_prefix(slot.bridge_prefix)


def stopped_label(root: Path, host: str) -> str:
    """How the slot of a lab host whose libvirtd is stopped is labelled while kept."""
    return f"{root} {host} (stopped)"


def release_stopped(slot: Slot, label: str) -> list[str]:
    """Free a slot kept for a stopped host (labelled ``label``), whoever keeps it; return
    the bridges that could not be deleted."""
    with _registry_lock():
        try:
            data = json.loads(slot.path().read_text())
        except (FileNotFoundError, ValueError):
            return []
        if not isinstance(data, dict) or data.get("for") != label:
            return []
        bridges.delete_with_prefix(slot.bridge_prefix)
        slot.path().unlink(missing_ok=True)
        return bridges.with_prefix(slot.bridge_prefix)
