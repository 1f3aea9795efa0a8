"""An offline move with its disks copied, as the guide does it (12.6: ``virsh migrate
--offline --persistent``, then the disk image copied), in a background thread:

1. each disk to copy gets a new volume in the same pool on the destination;
2. the definition moves offline (``VIR_MIGRATE_OFFLINE | PERSIST_DEST``, the source's
   kept: libvirt's offline migration cannot copy storage);
3. each volume streams from the source to the destination (``volumes.copy``: libvirt's
   storage volume streams, sparse, through this worker), and the destination's copy is
   read back and its SHA-256 compared with what was sent.

Only then is the run done; the executor verifies the destination and, after that, has
the source's definition and volumes removed (``Hypervisor.remove_source``). If any step
fails, what this run made on the destination (definition, volumes) is removed and the
source is untouched.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import libvirt

from balancer.errors import VerifyError
from workers.executor import volumes
from workers.executor.hypervisor import Completed
from workers.executor.libvirt_calls import translate


class OfflineCopy:
    """A ``MigrationRun``: the three steps above, then ``completed``."""

    def __init__(self, src_conn: Any, dst_conn: Any, dom: Any,
                 copies: list[volumes.VolumeRef], define: Callable[[], None],
                 dest: str) -> None:  # fmt: skip
        self.src_conn, self.dst_conn, self.dom = src_conn, dst_conn, dom
        self.copies, self.define, self.dest = copies, define, dest
        self.completed: Completed | None = None
        #: What was done, a sentence each (the executor records them as steps).
        self.notes: list[str] = []
        self._error: BaseException | None = None
        name = f"offline copy {dom.name()}"
        self._thread = threading.Thread(target=self._body, name=name, daemon=True)
        self._thread.start()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> None:
        self._thread.join()
        if isinstance(self._error, libvirt.libvirtError):
            raise translate(self._error, f"offline copy of {self.dom.name()}") from self._error
        if self._error is not None:
            raise self._error

    def _body(self) -> None:
        started = time.monotonic()
        created: list[volumes.VolumeRef] = []
        defined = False
        try:
            for ref in self.copies:
                volumes.create_volume(self.dst_conn, ref, self.dest)
                created.append(ref)
            self.define()
            defined = True
            total = 0
            for ref in self.copies:
                total += self._copy(ref)
            elapsed = int((time.monotonic() - started) * 1000)
            self.completed = Completed(elapsed_ms=elapsed, downtime_ms=0, bytes=total,
                                       disk_bytes=total)  # fmt: skip
        except Exception as exc:  # kept for result(), which raises it in the caller
            self._error = exc
            self._undo(created, defined)

    def _copy(self, ref: volumes.VolumeRef) -> int:
        src = volumes.lookup(self.src_conn, ref.pool, ref.name)
        dst = volumes.lookup(self.dst_conn, ref.pool, ref.name)
        if src is None or dst is None:
            raise VerifyError(f"volume {ref.pool}/{ref.name} vanished during the copy")
        sent, size = volumes.copy(self.src_conn, src, self.dst_conn, dst)
        got, got_size = volumes.checksum(self.dst_conn, dst)
        if (got, got_size) != (sent, size):
            raise VerifyError(f"volume {ref.pool}/{ref.name} on {self.dest}: sha256 {got[:16]}… "
                              f"({got_size} bytes) differs from the source's {sent[:16]}… "
                              f"({size} bytes)")  # fmt: skip
        self.notes.append(f"{ref.target}: {ref.pool}/{ref.name} copied, {size} bytes, "
                          f"sha256 {sent[:16]}… verified on {self.dest}")  # fmt: skip
        return size

    def _undo(self, created: list[volumes.VolumeRef], defined: bool) -> None:
        """Remove what this run made on the destination (best effort: the error that
        stopped it is what the caller hears of)."""
        if defined:
            with contextlib.suppress(libvirt.libvirtError):
                self.dst_conn.lookupByName(self.dom.name()).undefine()
        for ref in created:
            with contextlib.suppress(libvirt.libvirtError):
                volumes.delete(self.dst_conn, ref.pool, ref.name)
