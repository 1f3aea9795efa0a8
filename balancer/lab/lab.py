"""A lab: libvirtd "hosts" and their test guests, all recorded under one state directory.

    lab = Lab(Path("/var/lib/kvm-balancer-lab/mine"))
    lab.up(default_host_specs(2))                    # lab-a, lab-b
    guest = lab.add_guest("lab-a", GuestSpec("g1", dirty_rate_mib_s=16, working_set_mib=96))
    conn = lab.conn("lab-a")                         # a libvirt virConnect
    lab.down()                                       # kill everything by PID, delete the dir

Any process can pick a lab up again from its directory (``Lab(root)``): the CLI does so
between calls, the watchdog when a test session dies, ``reap_stale_labs`` later still.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from balancer.errors import InputError
from balancer.lab import guests, slots
from balancer.lab import state as lab_state
from balancer.lab.artifacts import GuestArtifacts
from balancer.lab.connection import connect
from balancer.lab.daemon import host_dir, start_daemon
from balancer.lab.errors import LabError
from balancer.lab.guests import Guest
from balancer.lab.host_resources import define_resources, plan_networks
from balancer.lab.procs import ProcessId, terminate, wait_gone
from balancer.lab.specs import GuestSpec, HostSpec
from balancer.lab.state import HostRecord, LabState
from balancer.lab.status import LabStatus, collect
from balancer.lab.teardown import host_processes, stop_host

#: Seconds ``restart_host`` lets libvirtd exit on SIGTERM before SIGKILL.
RESTART_GRACE_S = 20.0
#: Set to 1 to keep a lab's directory (logs, consoles) after ``down`` for debugging.
KEEP_ENV = "KVM_BALANCER_LAB_KEEP"


class Lab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._conns: dict[str, Any] = {}
        self._artifacts: GuestArtifacts | None = None

    # -- hosts -----------------------------------------------------------------------
    def state(self) -> LabState:
        return lab_state.load(self.root) or LabState(str(self.root))

    def up(
        self, specs: Sequence[HostSpec], owner: ProcessId | None = None, timeout: float = 180
    ) -> tuple[HostRecord, ...]:
        """Start the hosts of ``specs`` that are not running yet; return all hosts."""
        with lab_state.locked(self.root):
            current = lab_state.load(self.root) or LabState(str(self.root), owner)
            lab_state.save(current)
            for spec in specs:
                known = current.host(spec.name)
                if known is None:
                    current = self._start_host(current, spec, timeout)
                elif not known.daemon.is_running():
                    raise LabError(
                        f"host {spec.name} (pid {known.daemon.pid}) is not running any more; "
                        "stop the lab first (`balancer lab down`)"
                    )
            return current.hosts

    def _start_host(self, current: LabState, spec: HostSpec, timeout: float) -> LabState:
        slot = slots.claim(f"{self.root} {spec.name}")
        me = ProcessId.of(os.getpid())
        assert me is not None
        host_uuid = str(uuid.uuid4())
        try:
            daemon, namespace = start_daemon(self.root, spec.name, slot, host_uuid, timeout,
                                             spec.pools)  # fmt: skip
        except BaseException:
            slots.release(slot, me)
            raise
        slots.hand_over(slot, daemon, f"{self.root} {spec.name}")
        record = HostRecord(
            name=spec.name,
            uuid=host_uuid,
            slot=slot.index,
            daemon=daemon,
            mount_ns=namespace,
            dir=str(host_dir(self.root, spec.name)),
            pools=spec.pools,
            networks=plan_networks(spec, slot.bridge_prefix),
        )
        current = current.with_host(record)
        lab_state.save(current)
        define_resources(self.conn(spec.name), self.root, record.pools, record.networks)
        return current

    def restart_host(self, name: str, timeout: float = 180) -> HostRecord:
        """Restart host ``name``'s libvirtd as ``systemctl restart libvirtd`` would: SIGTERM
        (a clean exit; SIGKILL after ``RESTART_GRACE_S``), then the same daemon again: same
        directory, UUID, slot, defined guests, pools and networks. Only a host with no
        running guest (its QEMUs would be left in the old daemon's mount namespace, which
        the lab no longer tracks). Clients see their connection drop."""
        self.stop_host_daemon(name)
        return self.start_host_daemon(name, timeout)

    def stop_host_daemon(self, name: str) -> HostRecord:
        """Stop host ``name``'s libvirtd (the first half of ``restart_host``; the lab's
        "power off", ``balancer.lab.power``); nothing if it is stopped already. Its slot
        stays taken, by the lab's owner (or this process) until ``start_host_daemon``."""
        with lab_state.locked(self.root):
            record = self.host(name)
            if not record.daemon.is_running():
                return record
            helpers = [p for p in host_processes(record) if p != record.daemon]
            if any(p.name().startswith("qemu") for p in helpers):
                raise LabError(f"host {name} runs guests; stop them before a restart")
            owner = self.state().owner
            keeper = owner if owner is not None and owner.is_running() else None
            keeper = keeper or ProcessId.of(os.getpid())
            assert keeper is not None
            slots.hand_over(slots.Slot(record.slot), keeper, slots.stopped_label(self.root, name))
            conn = self._conns.pop(name, None)
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            # As systemd's stop: SIGTERM, then SIGKILL after a grace period. libvirtd may
            # take over 30 s to exit on its own (it waits for busy workers, then forces).
            if terminate([record.daemon], RESTART_GRACE_S):
                raise LabError(f"libvirtd of {name} (pid {record.daemon.pid}) survived SIGKILL")
            for helper in helpers:  # (dnsmasq) the new daemon starts its own
                helper.signal(signal.SIGKILL)
            wait_gone(helpers, 15)
            return record

    def start_host_daemon(self, name: str, timeout: float = 180) -> HostRecord:
        """Start host ``name``'s stopped libvirtd again (same directory, UUID, slot,
        guests, pools and networks); nothing if it runs."""
        with lab_state.locked(self.root):
            current = self.state()
            record = self.host(name)
            if record.daemon.is_running():
                return record
            slot = slots.Slot(record.slot)
            daemon, namespace = start_daemon(self.root, name, slot, record.uuid, timeout,
                                             record.pools)  # fmt: skip
            slots.hand_over(slot, daemon, f"{self.root} {name}")
            record = replace(record, daemon=daemon, mount_ns=namespace)
            lab_state.save(current.with_host(record))
            return record

    def host(self, name: str) -> HostRecord:
        record = self.state().host(name)
        if record is None:
            raise LabError(f"no host {name!r} in the lab at {self.root}")
        return record

    def conn(self, host: str) -> Any:
        """A cached libvirt connection to ``host`` (closed by ``close``/``down``)."""
        if host not in self._conns:
            self._conns[host] = connect(self.host(host).uri)
        return self._conns[host]

    def close(self) -> None:
        for conn in self._conns.values():
            with contextlib.suppress(Exception):  # the daemon may be gone already
                conn.close()
        self._conns.clear()

    # -- guests ----------------------------------------------------------------------
    def console_log(self, guest: str) -> Path:
        return self.root / "consoles" / f"{guest}.log"

    def add_guest(
        self, host: str, spec: GuestSpec, start: bool = True, boot_timeout: float = 120
    ) -> Guest:
        """Define the guest on ``host`` and (by default) start it and wait for its counter."""
        if self.find_guest(spec.name) is not None:
            raise InputError(f"a guest named {spec.name!r} exists already", "guest.name")
        if self._artifacts is None:
            self._artifacts = GuestArtifacts.from_cache()
        log = self.console_log(spec.name)
        dom = guests.define(self.conn(host), spec, self._artifacts, log)
        if spec.disk_pool is not None:
            self._refresh_pool(spec.disk_pool)
        guest = Guest(spec, log)
        if start:
            dom.create()
            guest.wait_for_counter(0, boot_timeout)
        return guest

    def _refresh_pool(self, pool: str) -> None:
        """Let every host with pool ``pool`` see a new volume (shared pools need it)."""
        for record in self.state().hosts:
            if record.daemon.is_running() and pool in {p.name for p in record.pools}:
                self.conn(record.name).storagePoolLookupByName(pool).refresh(0)

    def find_guest(self, name: str) -> tuple[str, Any] | None:
        """``(host, domain)`` of the guest: where it runs, else where it is defined."""
        found = []
        for record in self.state().hosts:
            if record.daemon.is_running():
                dom = guests.lookup(self.conn(record.name), name)
                if dom is not None:
                    found.append((record.name, dom))
        found.sort(key=lambda pair: not pair[1].isActive())
        return found[0] if found else None

    def remove_guest(self, name: str) -> None:
        """Destroy and undefine the guest on every host, and delete its disk volume."""
        running = [r.name for r in self.state().hosts if r.daemon.is_running()]
        volumes: set[tuple[str, str]] = set()
        for host in running:
            dom = guests.lookup(self.conn(host), name)
            if dom is not None:
                volumes |= guests.volumes_of(dom)
                guests.remove(self.conn(host), name)
        for host in running:
            for pool, volume in volumes:
                guests.remove_volume(self.conn(host), pool, volume)

    def status(self) -> LabStatus:
        return collect(self.state(), self.conn)

    # -- the end -----------------------------------------------------------------------
    def down(self) -> None:
        """Stop every host by PID and delete the lab's directory; raise if anything stays."""
        with lab_state.locked(self.root):
            self.close()
            current = lab_state.load(self.root)
            problems: list[str] = []
            for record in current.hosts if current else ():
                left = stop_host(record)
                if not record.daemon.is_running():  # stopped: its slot is kept for it
                    label = slots.stopped_label(self.root, record.name)
                    left += slots.release_stopped(slots.Slot(record.slot), label)
                problems += left
                if not left and current is not None:
                    current = current.without_host(record.name)
                    lab_state.save(current)
            if problems:
                raise LabError(f"lab {self.root} is not fully down: " + "; ".join(problems))
            if os.environ.get(KEEP_ENV) == "1":
                (self.root / lab_state.STATE_FILE).unlink(missing_ok=True)
            elif self.root.exists():  # a concurrent `down` may have removed it
                shutil.rmtree(self.root)
