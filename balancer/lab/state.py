"""What a lab has started, on disk (``<lab dir>/lab.json``), so that another process
(the next CLI call, a watchdog, the next test session) can find and stop it by PID.

Records are frozen; a change writes a new file atomically (write, then rename) under the
lab's lock, so a reader never sees half a state.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from balancer.lab.procs import ProcessId
from balancer.lab.slots import Slot
from balancer.lab.specs import PoolSpec

STATE_FILE = "lab.json"


@dataclass(frozen=True)
class NetworkRecord:
    name: str
    bridge: str


@dataclass(frozen=True)
class HostRecord:
    name: str
    uuid: str
    slot: int
    daemon: ProcessId
    #: The daemon's mount namespace, ``mnt:[inode]``: every process in it is this host's.
    mount_ns: str
    dir: str
    pools: tuple[PoolSpec, ...]
    networks: tuple[NetworkRecord, ...]

    @property
    def socket(self) -> str:
        return f"{self.dir}/run/libvirt-sock"

    @property
    def uri(self) -> str:
        return f"qemu+unix:///system?socket={self.socket}"

    @property
    def migration_address(self) -> str:
        return Slot(self.slot).migration_address

    @property
    def dedicated_address(self) -> str:
        return Slot(self.slot).dedicated_address

    @property
    def migration_ports(self) -> tuple[int, int]:
        return Slot(self.slot).port_min, Slot(self.slot).port_max

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostRecord:
        return cls(
            name=data["name"],
            uuid=data["uuid"],
            slot=int(data["slot"]),
            daemon=ProcessId(**data["daemon"]),
            mount_ns=data["mount_ns"],
            dir=data["dir"],
            pools=tuple(PoolSpec(**p) for p in data["pools"]),
            networks=tuple(NetworkRecord(**n) for n in data["networks"]),
        )


@dataclass(frozen=True)
class LabState:
    root: str
    #: The process whose death ends an ephemeral lab (a test session); None for the CLI's.
    owner: ProcessId | None = None
    hosts: tuple[HostRecord, ...] = ()

    def host(self, name: str) -> HostRecord | None:
        return next((h for h in self.hosts if h.name == name), None)

    def with_host(self, record: HostRecord) -> LabState:
        others = tuple(h for h in self.hosts if h.name != record.name)
        return replace(self, hosts=(*others, record))

    def without_host(self, name: str) -> LabState:
        return replace(self, hosts=tuple(h for h in self.hosts if h.name != name))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        owner = data.get("owner")
        return cls(
            root=data["root"],
            owner=None if owner is None else ProcessId(**owner),
            hosts=tuple(HostRecord.from_json(h) for h in data["hosts"]),
        )


def to_json(state: LabState) -> str:
    return json.dumps(asdict(state), indent=2, sort_keys=True)


def load(root: Path) -> LabState | None:
    try:
        return LabState.from_json(json.loads((root / STATE_FILE).read_text()))
    except FileNotFoundError:
        return None


def save(state: LabState) -> None:
    path = Path(state.root) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(to_json(state))
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Serialise up/down/guest changes of one lab across processes."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
