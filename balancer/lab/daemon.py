"""Start one libvirtd as a lab "host": its own mount namespace, directories and socket.

    setsid --fork unshare --mount --propagation private -- /bin/sh -c '
        echo $$ > <host>/daemon.pid          # the PID libvirtd will have (exec keeps it)
        mount --bind <host>/etc /etc/libvirt  # … run, lib, log likewise
        mount --bind <cache>/libvirt-cache /var/cache/libvirt
        mount --bind <lab>/pools/shared <lab>/pools/shared-b   # a pool with a view: the
        mount -t tmpfs … <lab>/pools/shared                    # data under another path only
        exec libvirtd --config <host>/etc/libvirtd.conf --pid-file <host>/run/libvirtd.pid'

The mounts exist only in that namespace (propagation private): nothing shows in the
machine's mount table and nothing is left when the namespace's last process exits. The
daemon is detached from the caller (``setsid --fork``), so a lab started by one CLI call
outlives it; it is stopped by PID (``balancer.lab.teardown``). The QEMU capability cache
is shared by all hosts: only the first daemon ever started probes QEMU (about 9 s).
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import libvirt

from balancer.lab.config_files import libvirtd_conf, qemu_conf
from balancer.lab.connection import connect
from balancer.lab.errors import LabError, LabTimeoutError
from balancer.lab.host_resources import pool_path
from balancer.lab.paths import cache_dir
from balancer.lab.procs import ProcessId, mount_namespace, wait_gone
from balancer.lab.slots import Slot
from balancer.lab.specs import PoolSpec

LIBVIRTD = "/usr/sbin/libvirtd"
MOUNT = "/bin/mount"
SETSID = "/usr/bin/setsid"
UNSHARE = "/usr/bin/unshare"
#: host sub-directory -> where the daemon sees it
BINDS = {
    "etc": "/etc/libvirt",
    "run": "/run/libvirt",
    "lib": "/var/lib/libvirt",
    "log": "/var/log/libvirt",
}
CAPS_TARGET = "/var/cache/libvirt"
MAX_SOCKET_PATH = 107


def host_dir(root: Path, name: str) -> Path:
    return root / "hosts" / name


def _views(root: Path, pools: Sequence[PoolSpec]) -> list[tuple[Path, Path]]:
    """(the shared directory, where this host sees it) for each shared pool with a view."""
    return [(root / "pools" / p.name, root / "pools" / p.view)
            for p in pools if p.shared and p.view]  # fmt: skip


def _script(hdir: Path, caps: Path, views: Sequence[tuple[Path, Path]] = ()) -> str:
    q = shlex.quote
    lines = [f"echo $$ > {q(str(hdir / 'daemon.pid'))}"]
    lines += [f"{MOUNT} --bind {q(str(hdir / sub))} {q(tgt)}" for sub, tgt in BINDS.items()]
    lines.append(f"{MOUNT} --bind {q(str(caps))} {CAPS_TARGET}")
    for data, view in views:  # the same data under another path; the usual one hidden
        lines.append(f"{MOUNT} --bind {q(str(data))} {q(str(view))}")
        lines.append(f"{MOUNT} -t tmpfs -o size=64k,mode=0555 kbl-hidden {q(str(data))}")
    conf, pidfile = hdir / "etc" / "libvirtd.conf", hdir / "run" / "libvirtd.pid"
    lines.append(f"exec {LIBVIRTD} --config {q(str(conf))} --pid-file {q(str(pidfile))}")
    return "set -e\n" + "\n".join(lines)


def start_daemon(
    root: Path,
    name: str,
    slot: Slot,
    host_uuid: str,
    timeout: float,
    pools: Sequence[PoolSpec] = (),
) -> tuple[ProcessId, str]:
    """Start the daemon of host ``name``; return its process and mount namespace."""
    from balancer.lab.tls import write_host_pki  # noqa: PLC0415 - trustme only when used

    hdir = host_dir(root, name)
    if len(str(hdir / "run" / "libvirt-sock")) > MAX_SOCKET_PATH:
        raise LabError(f"lab dir {root} is too long for a UNIX socket path")
    for sub in BINDS:
        (hdir / sub).mkdir(parents=True, exist_ok=True)
    caps = cache_dir() / "libvirt-cache"
    caps.mkdir(parents=True, exist_ok=True)
    for target in (*BINDS.values(), CAPS_TARGET):
        Path(target).mkdir(parents=True, exist_ok=True)
    views = _views(root, pools)
    for path in (p for pair in views for p in pair):
        path.mkdir(parents=True, exist_ok=True)
    shared = [pool_path(root, p) for p in pools if p.shared]
    pki = write_host_pki(root, hdir, (slot.migration_address, slot.dedicated_address))
    (hdir / "etc" / "libvirtd.conf").write_text(libvirtd_conf(host_uuid))
    (hdir / "etc" / "qemu.conf").write_text(qemu_conf(slot, shared, pki))
    pidfile = hdir / "daemon.pid"
    pidfile.unlink(missing_ok=True)
    cmd = [SETSID, "--fork", UNSHARE, "--mount", "--propagation", "private", "--"]
    with open(hdir / "libvirtd.out", "ab") as out:
        subprocess.run(
            [*cmd, "/bin/sh", "-c", _script(hdir, caps, views)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )
    proc = _wait_for_pid(pidfile, hdir)
    try:
        _wait_ready(f"qemu+unix:///system?socket={hdir}/run/libvirt-sock", proc, hdir, timeout)
        namespace = mount_namespace(proc.pid)
        if namespace is None or namespace == mount_namespace(1):
            raise LabError(f"libvirtd of {name} (pid {proc.pid}) is not in its own namespace")
    except BaseException:
        proc.signal(signal.SIGKILL)
        wait_gone([proc], 10)
        raise
    return proc, namespace


def _log_tail(hdir: Path) -> str:
    parts = []
    for log in (hdir / "libvirtd.out", hdir / "log" / "libvirtd.log"):
        if log.exists():
            parts += log.read_text(errors="replace").splitlines()[-10:]
    return "\n".join(parts)


def _wait_for_pid(pidfile: Path, hdir: Path) -> ProcessId:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = pidfile.read_text().strip() if pidfile.exists() else ""
        proc = ProcessId.of(int(text)) if text.isdigit() else None
        if proc is not None:
            return proc
        time.sleep(0.02)
    raise LabError(f"libvirtd did not start in {hdir}:\n{_log_tail(hdir)}")


def _wait_ready(uri: str, proc: ProcessId, hdir: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_running():
            raise LabError(f"libvirtd (pid {proc.pid}) exited:\n{_log_tail(hdir)}")
        if (hdir / "run" / "libvirt-sock").exists():
            try:
                conn = connect(uri)
            except libvirt.libvirtError:
                pass
            else:
                conn.getVersion()
                conn.close()
                return
        time.sleep(0.1)
    raise LabTimeoutError(f"libvirtd (pid {proc.pid}) not ready after {timeout:.0f}s")
