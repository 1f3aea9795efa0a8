"""A real KVM lab on one machine: libvirtd "hosts" and small QEMU guests for tests.

Each host is a libvirtd in its own mount namespace with its own directories, socket,
host UUID, migration address (127.0.0.10+) and port range, storage pools and networks;
guests are TCG QEMU machines booting Debian's kernel and an init that dirties memory at a
set rate and prints a counter on its serial console. Everything is recorded under the
lab's directory and stopped by PID. See docs/lab.md.

    specs.py          what to build: HostSpec, GuestSpec, the standard hosts
    lab.py            Lab: up, add_guest, conn, status, down
    daemon.py         start one libvirtd in its own mount namespace
    teardown.py       stop a host by PID; procs.py: PIDs with start times, namespaces
    state.py          lab.json; slots.py: machine-wide address/port/bridge slots
    config_files.py   libvirtd.conf, qemu.conf; domain_xml.py, host_xml.py: XML
    host_resources.py a host's pools and networks; bridges.py: their Linux bridges
    guests.py         define/start/remove guests; console.py: read their counter
    probes.py         jobStats and dirty-rate helpers; background.py: a call in a thread
    watchdog.py       stop a test session's lab when the session dies; stale.py: later
    requirements.py   what the lab needs here; artifacts.py: the built guest
    cli.py            `balancer lab ...`; pytest_plugin.py: the fixtures
"""

from balancer.lab.errors import LabError, LabTimeoutError, LabUnavailableError
from balancer.lab.guests import Guest
from balancer.lab.lab import Lab
from balancer.lab.specs import GuestSpec, HostSpec, PoolSpec, default_host_specs

__all__ = [
    "Guest",
    "GuestSpec",
    "HostSpec",
    "Lab",
    "LabError",
    "LabTimeoutError",
    "LabUnavailableError",
    "PoolSpec",
    "default_host_specs",
]
