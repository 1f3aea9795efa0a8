"""The hypervisor Protocol on libvirt: one connection per host URI, opened lazily.

Deployed on each KVM host, the URIs are ``qemu:///system`` for the local host and
``qemu+ssh://<host>/system`` (or ``qemu+tls://``) for peers; deployed centrally, every
host is a remote URI. Peer-to-peer migration: the source libvirtd connects to the
destination URI itself, so that URI must be reachable from the source host.

A migration's data goes where ``StartOptions.migration_uri`` says (a dedicated network:
``VIR_MIGRATE_PARAM_URI``; when its host is an IP address the destination listens on it
only, ``VIR_MIGRATE_PARAM_LISTEN_ADDRESS``), encrypted with ``VIR_MIGRATE_TLS``, over
parallel connections, compressed, with QEMU's auto-converge armed, and with the
destination's definition rewritten (``dest_xml``). Disks on storage the plan did not count
as shared are copied: live, by libvirt's storage migration (``VIR_MIGRATE_NON_SHARED_DISK``
with the disks listed, their volumes created on the destination first); offline, by
``offline_copy`` (define there, stream the volumes, compare checksums).
"""

from __future__ import annotations

import contextlib
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import libvirt

from balancer.core.migration_model import Mode
from balancer.errors import PermanentError, RetryableError
from workers.executor import libvirt_fit, volumes
from workers.executor.hypervisor import (
    MIGRATION_NAMESPACE,
    MIGRATION_PREFIX,
    Attachments,
    Completed,
    Domain,
    DomState,
    HostResources,
    JobSample,
    StartOptions,
)
from workers.executor.libvirt_calls import ThreadRun, ignore_errors, translate
from workers.executor.libvirt_cpu import cpu_refusal
from workers.executor.libvirt_migrate_args import (
    AUTO_CONVERGE_INCREMENT,
    AUTO_CONVERGE_INITIAL,
    FLAGS,
    LIVE,
    migrate_params,
    transport_flags,
)
from workers.executor.offline_copy import OfflineCopy

_ENDED = (libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_ERR_NO_DOMAIN)
_STATES: dict[int, DomState] = {
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
}


class LibvirtHypervisor:
    def __init__(self, uris: Mapping[str, str], migration_uris: Mapping[str, str] | None = None):
        libvirt.registerErrorHandler(ignore_errors, None)  # raise, do not also print
        self.uris = dict(uris)
        self.migration_uris = dict(migration_uris or {})
        self._conns: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._postcopy: set[str] = set()
        #: Offline moves with a storage copy: their own statistics (no libvirt job).
        self._copies: dict[str, OfflineCopy] = {}

    def conn(self, host: str) -> Any:
        with self._lock:
            cached = self._conns.get(host)
            if cached is not None and not _alive(cached):  # its libvirtd went away
                self._conns.pop(host)
                with contextlib.suppress(libvirt.libvirtError):
                    cached.close()
            if host not in self._conns:
                if host not in self.uris:
                    raise PermanentError(f"no libvirt URI configured for host {host!r}")
                try:
                    self._conns[host] = libvirt.open(self.uris[host])
                except libvirt.libvirtError as exc:
                    raise RetryableError(f"connect {host}: {exc}") from exc
            return self._conns[host]

    def close(self) -> None:
        with self._lock:
            for c in self._conns.values():
                c.close()
            self._conns.clear()

    def _lookup(self, host: str, vm: str) -> Any | None:
        try:
            return self.conn(host).lookupByName(vm)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise translate(exc, f"lookup {vm} on {host}") from exc

    def _dom(self, host: str, vm: str) -> Any:
        dom = self._lookup(host, vm)
        if dom is None:
            raise PermanentError(f"{vm} is not on {host}")
        return dom

    def domain(self, host: str, vm: str) -> Domain | None:
        dom = self._lookup(host, vm)
        if dom is None:
            return None
        try:
            state = _STATES.get(dom.state()[0], "other")
            active = bool(dom.isActive())
            job = active and dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE
            return Domain(state=state, persistent=bool(dom.isPersistent()), job_active=job)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in _ENDED:
                return None  # it left while we asked
            raise translate(exc, f"state of {vm} on {host}") from exc

    def domains(self, host: str) -> tuple[str, ...]:
        try:
            return tuple(sorted(d.name() for d in self.conn(host).listAllDomains(0)))
        except libvirt.libvirtError as exc:
            raise translate(exc, f"list domains on {host}") from exc

    def cpu_refusal(self, vm: str, source: str, dest: str) -> str:
        dom = self._dom(source, vm)
        try:
            return cpu_refusal(self.conn(source), self.conn(dest), dom, dest)
        except libvirt.libvirtError as exc:
            raise translate(exc, f"CPU of {vm}") from exc

    def attachments(self, host: str, vm: str) -> Attachments:
        try:
            return libvirt_fit.attachments(self.conn(host), self._dom(host, vm))
        except libvirt.libvirtError as exc:
            raise translate(exc, f"disks and networks of {vm} on {host}") from exc

    def resources(self, host: str) -> HostResources:
        try:
            return libvirt_fit.resources(self.conn(host))
        except libvirt.libvirtError as exc:
            raise translate(exc, f"pools and networks of {host}") from exc

    def start(
        self,
        vm: str,
        source: str,
        dest: str,
        mode: Mode,
        *,
        bandwidth_mib_s: float | None,
        max_downtime_ms: int,
        postcopy: bool,
        copy_storage: bool,
        options: StartOptions | None = None,
    ) -> ThreadRun | OfflineCopy:
        opts = options or StartOptions()
        dom = self._dom(source, vm)
        uri = self.migration_uris.get(dest, self.uris[dest])
        try:
            copies = self._copies_of(dom, source, opts) if copy_storage else []
            paths = self._volume_paths(dest, copies)
            params = migrate_params(dom, mode, bandwidth_mib_s, opts, paths)
        except libvirt.libvirtError as exc:
            raise translate(exc, f"prepare the migration of {vm}") from exc
        self._postcopy.discard(vm)
        self._copies.pop(vm, None)
        if mode == "offline":
            flags = libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
            flags |= libvirt.VIR_MIGRATE_OFFLINE
            if not copies:
                flags |= libvirt.VIR_MIGRATE_UNDEFINE_SOURCE  # nothing to copy after
                return ThreadRun(lambda: dom.migrateToURI3(uri, params, flags), f"migrate {vm}")
            run = OfflineCopy(self.conn(source), self.conn(dest), dom, copies,
                              lambda: dom.migrateToURI3(uri, params, flags), dest)  # fmt: skip
            self._copies[vm] = run
            return run
        flags = FLAGS[mode] | transport_flags(opts)
        if postcopy and mode in LIVE and not copies:  # libvirt refuses both at once
            flags |= libvirt.VIR_MIGRATE_POSTCOPY
        if opts.auto_converge and mode in LIVE:
            flags |= libvirt.VIR_MIGRATE_AUTO_CONVERGE
            params[libvirt.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL] = AUTO_CONVERGE_INITIAL
            params[libvirt.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT] = AUTO_CONVERGE_INCREMENT
        created: list[volumes.VolumeRef] = []
        if copies:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_DISK
            params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = [c.target for c in copies]
            created = self._create_volumes(dest, copies)
        if mode in LIVE:
            try:
                dom.migrateSetMaxDowntime(max_downtime_ms, 0)
            except libvirt.libvirtError as exc:
                raise translate(exc, f"set max downtime of {vm}") from exc

        def migrate() -> None:
            try:
                dom.migrateToURI3(uri, params, flags)
            except libvirt.libvirtError:
                self._drop_volumes(dest, created)  # the VM stays on its source
                raise

        return ThreadRun(migrate, f"migrate {vm}")

    def _copies_of(self, dom: Any, host: str, opts: StartOptions) -> list[volumes.VolumeRef]:
        """The VM's disks in pools the plan did not count as shared (to be copied)."""
        found = volumes.disk_volumes(self.conn(host), dom.XMLDesc(0))
        return volumes.to_copy(found, opts.shared_pools)

    def _volume_paths(self, dest: str, copies: list[volumes.VolumeRef]) -> dict[str, str]:
        """Source path → destination path of each copied volume whose pool lives under
        another path there (its definition is rewritten to match)."""
        out: dict[str, str] = {}
        for ref in copies:
            pool = self.conn(dest).storagePoolLookupByName(ref.pool)
            target = ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or ""
            there = f"{target.rstrip('/')}/{ref.name}"
            if target and there != ref.path:
                out[ref.path] = there
        return out

    def _create_volumes(
        self, dest: str, copies: list[volumes.VolumeRef]
    ) -> list[volumes.VolumeRef]:
        created: list[volumes.VolumeRef] = []
        try:
            for ref in copies:
                volumes.create_volume(self.conn(dest), ref, dest)
                created.append(ref)
        except libvirt.libvirtError as exc:
            self._drop_volumes(dest, created)
            raise translate(exc, f"create the disks on {dest}") from exc
        except BaseException:
            self._drop_volumes(dest, created)
            raise
        return created

    def _drop_volumes(self, dest: str, created: list[volumes.VolumeRef]) -> None:
        for ref in created:
            with contextlib.suppress(libvirt.libvirtError):
                volumes.delete(self.conn(dest), ref.pool, ref.name)

    def job(self, host: str, vm: str) -> JobSample | None:
        dom = self._lookup(host, vm)
        if dom is None:
            return None
        try:
            s = dom.jobStats()
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in _ENDED:
                return None
            raise translate(exc, f"job stats of {vm}") from exc
        if s.get("type", libvirt.VIR_DOMAIN_JOB_NONE) == libvirt.VIR_DOMAIN_JOB_NONE:
            return None
        return JobSample(
            elapsed_ms=int(s.get("time_elapsed", 0)),
            total=int(s.get("memory_total", 0)),
            processed=int(s.get("memory_processed", 0)),
            remaining=int(s.get("memory_remaining", 0)),
            iteration=int(s.get("memory_iteration", 0)),
            dirty_rate_pages_s=int(s.get("memory_dirty_rate", 0)),
            page_size=int(s.get("memory_page_size", 4096)),
            bandwidth_bytes_s=int(s.get("memory_bps", 0)),
            expected_downtime_ms=int(s.get("downtime", 0)),
            postcopy=vm in self._postcopy,
            disk_total=int(s.get("disk_total", 0)),
            disk_processed=int(s.get("disk_processed", 0)),
            throttle_percent=int(s.get("auto_converge_throttle", 0)),
        )

    def completed(self, host: str, vm: str) -> Completed | None:
        copy = self._copies.get(vm)
        if copy is not None and copy.done():
            return copy.completed
        dom = self._lookup(host, vm)
        if dom is None:
            return None
        try:
            s = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
        except libvirt.libvirtError as exc:
            raise translate(exc, f"completed job stats of {vm}") from exc
        if "time_elapsed" not in s:
            return None
        return Completed(
            elapsed_ms=int(s["time_elapsed"]),
            downtime_ms=int(s.get("downtime", 0)),
            bytes=int(s.get("memory_processed", 0)) + int(s.get("disk_processed", 0)),
            memory_total=int(s.get("memory_total", 0)),
            zero_bytes=int(s.get("memory_constant", 0)) * int(s.get("memory_page_size", 4096)),
            setup_ms=int(s.get("setup_time", 0)),
            disk_bytes=int(s.get("disk_processed", 0)),
        )

    def _act(self, host: str, vm: str, what: str, call: str, *args: int) -> None:
        dom = self._dom(host, vm)
        try:
            getattr(dom, call)(*args)
        except libvirt.libvirtError as exc:
            raise translate(exc, f"{what} {vm} on {host}") from exc

    def set_max_downtime(self, host: str, vm: str, ms: int) -> None:
        self._act(host, vm, "set max downtime of", "migrateSetMaxDowntime", ms, 0)

    def start_postcopy(self, host: str, vm: str) -> None:
        self._act(host, vm, "start post-copy of", "migrateStartPostCopy", 0)
        self._postcopy.add(vm)

    def suspend(self, host: str, vm: str) -> None:
        self._act(host, vm, "suspend", "suspend")

    def resume(self, host: str, vm: str) -> None:
        self._act(host, vm, "resume", "resume")

    def abort(self, host: str, vm: str) -> None:
        self._act(host, vm, "abort the job of", "abortJob")

    def remove_source(
        self, vm: str, source: str, dest: str, shared_pools: tuple[str, ...]
    ) -> tuple[str, ...]:
        """Undefine the VM on ``source`` (if still defined and not running) and delete the
        source's volumes of its disks in unshared pools, as the destination names them."""
        try:
            there = self._dom(dest, vm)
            copied = volumes.to_copy(volumes.disk_volumes(self.conn(dest), there.XMLDesc(0)),
                                     shared_pools)  # fmt: skip
            left = self._lookup(source, vm)
            if left is not None:
                if left.isActive():
                    raise PermanentError(f"{vm} runs on {source}: its disks stay")
                left.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                                   | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                                   | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)  # fmt: skip
            src = self.conn(source)
            return tuple(
                f"{r.pool}/{r.name}" for r in copied if volumes.delete(src, r.pool, r.name)
            )
        except libvirt.libvirtError as exc:
            raise translate(exc, f"remove {vm} and its copied disks from {source}") from exc

    def mark_migrated(
        self, host: str, vm: str, *, epoch: int | None, migration_id: str, plan_id: str
    ) -> None:
        """``<kvmb:migration epoch= id= plan=/>`` in the domain's metadata (live and
        persistent; an inactive domain: persistent only)."""
        dom = self._dom(host, vm)
        xml = migration_metadata(epoch, migration_id, plan_id)
        try:
            flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
            if dom.isActive():
                flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
            dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, MIGRATION_PREFIX,
                            MIGRATION_NAMESPACE, flags)  # fmt: skip
        except libvirt.libvirtError as exc:
            raise translate(exc, f"mark the migration of {vm} on {host}") from exc


def _alive(conn: Any) -> bool:
    """Whether a connection still works: one whose daemon stopped (a restart, a lab host
    powered off) is dead after its first failed call, and a new one is opened."""
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False


def migration_metadata(epoch: int | None, migration_id: str, plan_id: str) -> str:
    """The metadata element (without namespace: libvirt adds it with the prefix); no
    ``epoch`` attribute for an operator's move."""
    epoch_attr = {} if epoch is None else {"epoch": str(epoch)}
    el = ET.Element("migration", {**epoch_attr, "id": migration_id, "plan": plan_id})
    return ET.tostring(el, encoding="unicode")
