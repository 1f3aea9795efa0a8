"""Stop one lab host by PID and remove what it left in the machine's shared state.

1. Find its processes: libvirtd (PID + start time from the lab state), the QEMUs named
   in libvirt's PID files, and every process in the daemon's mount namespace. The
   namespace is only scanned while one of those verified processes still holds it, so a
   namespace number recycled for someone else's namespace is never matched.
2. SIGKILL them all and wait until they are gone. Nothing needs a clean shutdown: the
   host's whole directory is deleted next, and with its last process the namespace and
   its bind mounts vanish. No cgroups exist to remove (``cgroup_controllers = []``).
3. Free its slot, which deletes the host's bridges (a killed libvirtd leaves them),
   unless the slot has meanwhile passed to another live lab.
"""

from __future__ import annotations

import signal
from pathlib import Path

from balancer.lab import slots
from balancer.lab.procs import ProcessId, mount_namespace, processes_in_namespace, wait_gone
from balancer.lab.state import HostRecord


def _qemu_from_pidfiles(record: HostRecord) -> list[ProcessId]:
    found = []
    for pidfile in sorted((Path(record.dir) / "run" / "qemu").glob("*.pid")):
        text = pidfile.read_text().strip()
        proc = ProcessId.of(int(text)) if text.isdigit() else None
        if proc is not None and proc.is_running() and _is_ours(proc, record):
            found.append(proc)
    return found


def _is_ours(proc: ProcessId, record: HostRecord) -> bool:
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"qemu-system" in cmdline and mount_namespace(proc.pid) == record.mount_ns


def host_processes(record: HostRecord) -> list[ProcessId]:
    """Every running process that belongs to the host ``record``."""
    anchors = _qemu_from_pidfiles(record)
    if record.daemon.is_running():
        anchors.append(record.daemon)
    if not anchors:
        return []
    members = processes_in_namespace(record.mount_ns)
    return list(dict.fromkeys([*anchors, *members]))


def stop_host(record: HostRecord) -> list[str]:
    """Stop host ``record``; return what could not be cleaned (empty when all is well)."""
    procs = host_processes(record)
    for proc in procs:
        proc.signal(signal.SIGKILL)
    problems = [f"pid {p.pid} of {record.name} survived SIGKILL" for p in wait_gone(procs, 15)]
    left = slots.release(slots.Slot(record.slot), record.daemon)
    return problems + [f"bridge {name} of {record.name} could not be deleted" for name in left]
