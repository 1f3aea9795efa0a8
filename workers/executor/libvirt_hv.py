"""The hypervisor Protocol on libvirt: one connection per host URI, opened lazily.

Deployed on each KVM host, the URIs are ``qemu:///system`` for the local host and
``qemu+ssh://<host>/system`` (or ``qemu+tls://``) for peers; deployed centrally, every
host is a remote URI. Peer-to-peer migration: the source libvirtd connects to the
destination URI itself, so that URI must be reachable from the source host.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import libvirt

from balancer.core.migration_model import Mode
from balancer.errors import PermanentError, RetryableError
from workers.executor import libvirt_fit
from workers.executor.hypervisor import (
    MIGRATION_NAMESPACE,
    MIGRATION_PREFIX,
    Attachments,
    Completed,
    Domain,
    DomState,
    HostResources,
    JobSample,
)
from workers.executor.libvirt_calls import ThreadRun, ignore_errors, translate

_P2P = libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
_P2P |= libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
FLAGS: dict[str, int] = {
    "live": _P2P | libvirt.VIR_MIGRATE_LIVE,
    "live-postcopy": _P2P | libvirt.VIR_MIGRATE_LIVE,
    "non-live": _P2P,
    "offline": _P2P | libvirt.VIR_MIGRATE_OFFLINE,
}
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

    def conn(self, host: str) -> Any:
        with self._lock:
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

    def accepts_cpu(self, vm: str, source: str, dest: str) -> bool:
        tree = ET.fromstring(self._dom(source, vm).XMLDesc(0))
        cpu, os_type = tree.find("cpu"), tree.find("os/type")
        if cpu is None or cpu.get("mode") in ("host-passthrough", "host-model"):
            return cpu is None  # host-* CPUs: leave it to libvirt's own migration check
        arch = os_type.get("arch") if os_type is not None else None
        machine = os_type.get("machine") if os_type is not None else None
        xml = ET.tostring(cpu, encoding="unicode")
        try:
            got = self.conn(dest).compareHypervisorCPU(
                None, arch, machine, tree.get("type"), xml, 0
            )
        except libvirt.libvirtError as exc:
            raise translate(exc, f"compareHypervisorCPU on {dest}") from exc
        return int(got) in (libvirt.VIR_CPU_COMPARE_IDENTICAL, libvirt.VIR_CPU_COMPARE_SUPERSET)

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
    ) -> ThreadRun:
        dom = self._dom(source, vm)
        flags = FLAGS[mode]
        if postcopy and mode in ("live", "live-postcopy"):
            flags |= libvirt.VIR_MIGRATE_POSTCOPY
        if copy_storage:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_DISK
        params: dict[str, Any] = {}
        if bandwidth_mib_s and mode != "offline":
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = max(1, int(bandwidth_mib_s))
        if mode in ("live", "live-postcopy"):
            try:
                dom.migrateSetMaxDowntime(max_downtime_ms, 0)
            except libvirt.libvirtError as exc:
                raise translate(exc, f"set max downtime of {vm}") from exc
        self._postcopy.discard(vm)
        uri = self.migration_uris.get(dest, self.uris[dest])
        return ThreadRun(lambda: dom.migrateToURI3(uri, params, flags), f"migrate {vm}")

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
        )

    def completed(self, host: str, vm: str) -> Completed | None:
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


def migration_metadata(epoch: int | None, migration_id: str, plan_id: str) -> str:
    """The metadata element (without namespace: libvirt adds it with the prefix); no
    ``epoch`` attribute for an operator's move."""
    epoch_attr = {} if epoch is None else {"epoch": str(epoch)}
    el = ET.Element("migration", {**epoch_attr, "id": migration_id, "plan": plan_id})
    return ET.tostring(el, encoding="unicode")
