"""What is running in a lab, read from the daemons themselves (so it stays true after
migrations made by any tool): ``balancer lab status --json`` prints ``to_json()``.

    {"root": "...",
     "hosts":  [{"name", "uri", "migration_address", "migration_ports", "pid", "running",
                 "pools", "networks"}],
     "guests": [{"name", "host", "state", "persistent", "console_log"}]}
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from balancer.lab.state import HostRecord, LabState

#: virDomainState -> the word virsh uses
STATES = {
    0: "nostate",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutdown",
    5: "shutoff",
    6: "crashed",
    7: "pmsuspended",
}


@dataclass(frozen=True)
class HostStatus:
    name: str
    uri: str
    migration_address: str
    migration_ports: tuple[int, int]
    pid: int
    running: bool
    pools: tuple[str, ...]
    networks: tuple[str, ...]


@dataclass(frozen=True)
class GuestStatus:
    name: str
    host: str
    state: str
    persistent: bool
    console_log: str | None


@dataclass(frozen=True)
class LabStatus:
    root: str
    hosts: tuple[HostStatus, ...]
    guests: tuple[GuestStatus, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def console_log_of(dom: Any) -> str | None:
    """The file the domain's first serial port writes to, if it writes to a file."""
    source = ET.fromstring(dom.XMLDesc(0)).find("./devices/serial[@type='file']/source")
    return None if source is None else source.get("path")


def _host(record: HostRecord, running: bool) -> HostStatus:
    return HostStatus(
        name=record.name,
        uri=record.uri,
        migration_address=record.migration_address,
        migration_ports=record.migration_ports,
        pid=record.daemon.pid,
        running=running,
        pools=tuple(p.name for p in record.pools),
        networks=tuple(n.name for n in record.networks),
    )


def collect(state: LabState, conn_for: Callable[[str], Any]) -> LabStatus:
    hosts, guests = [], []
    for record in state.hosts:
        running = record.daemon.is_running()
        hosts.append(_host(record, running))
        if not running:
            continue
        for dom in conn_for(record.name).listAllDomains(0):
            code = int(dom.state()[0])
            guests.append(
                GuestStatus(
                    name=str(dom.name()),
                    host=record.name,
                    state=STATES.get(code, str(code)),
                    persistent=bool(dom.isPersistent()),
                    console_log=console_log_of(dom),
                )
            )
    return LabStatus(state.root, tuple(hosts), tuple(sorted(guests, key=lambda g: g.name)))
