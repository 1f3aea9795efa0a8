"""The ``LoadHistory`` port on Redis: each VM's CPU demand over the last window, by VM
name, so a migrated VM's samples follow it (an agent's own history is per host).

    kvmb:ctl:history          STREAM, one small entry per sample: ``t`` (the cycle's
                              clock) and ``layout`` (a digest of the VM names)
    kvmb:ctl:history-cpu      HASH t → zstd float32 CPU of every VM, in layout order
    kvmb:ctl:history-layouts  HASH digest → zstd msgpack list of the VM names, sorted

The names are sorted so a layout changes only when the set of VMs does (not when one
migrates): at 400,000 VMs a sample then costs 1.6 MB of CPU figures, and the names are
stored and decoded once per set. The leading daemon records a sample at most every
``step_s`` and keeps those that cover ``keep_s`` (older samples and unused layouts are
deleted as it records); a new leader reads the same keys, so forecasts survive a
leader change.

The matrix has one column per ``step_s`` ending with the snapshot's own demand; a column
takes the latest sample at or before its time (half a step of tolerance), so a gap in
the samples (the daemon was down) holds the last one; a VM known for less long has its
oldest sample repeated back to the window's start, and a damaged sample is skipped.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import cast

import msgspec
import numpy as np
import numpy.typing as npt
import redis
import zstandard

from balancer.control.ports import FloatArray
from balancer.core.models import Snapshot
from balancer.state.keys import Keys

log = logging.getLogger(__name__)
_names_encoder = msgspec.msgpack.Encoder()
_names_decoder = msgspec.msgpack.Decoder(list[str])
IntArray = npt.NDArray[np.int64]
Entries = list[tuple[bytes, dict[bytes, bytes]]]


class RedisHistory:
    def __init__(self, client: redis.Redis, keys: Keys, *, step_s: float, keep_s: float) -> None:
        if not (0 < step_s < math.inf) or not (0 <= keep_s < math.inf):
            raise ValueError(f"step_s {step_s} and keep_s {keep_s} must be finite, step_s > 0")
        self.client, self.keys = client, keys
        self.step_s, self.keep_s = step_s, keep_s
        self._keep = max(2, math.ceil(keep_s / step_s) + 2)
        #: Layout digest → its VM names (a layout never changes once stored).
        self._layouts: dict[bytes, list[str]] = {}

    # -- recording -------------------------------------------------------------------
    def record(self, snapshot: Snapshot) -> None:
        k = self.keys
        last = cast(Entries, self.client.xrevrange(k.vm_history, count=1))
        if last and snapshot.taken_at - float(last[0][1][b"t"]) < self.step_s * 0.999:
            return
        names = [v.name for v in snapshot.vms]
        order = sorted(range(len(names)), key=names.__getitem__)
        cpu = np.fromiter((snapshot.vms[i].cpu_used for i in order), np.float32, len(order))
        z = zstandard.ZstdCompressor(level=3)
        layout = z.compress(_names_encoder.encode([names[i] for i in order]))
        digest = hashlib.blake2b(layout, digest_size=16).hexdigest().encode()
        t = repr(snapshot.taken_at)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hsetnx(k.vm_history_layouts, digest, layout)
            pipe.hset(k.vm_history_cpu, t, z.compress(cpu.tobytes()))
            pipe.xadd(
                k.vm_history, {"t": t, "layout": digest}, maxlen=self._keep, approximate=False
            )
            pipe.xrange(k.vm_history)
            pipe.hkeys(k.vm_history_cpu)
            pipe.hkeys(k.vm_history_layouts)
            *_, kept, times, layouts = pipe.execute()
        self._forget(cast(Entries, kept), times, layouts)

    def _forget(self, kept: Entries, times: list[bytes], layouts: list[bytes]) -> None:
        """Delete the samples and layouts no entry of the stream refers to any more."""
        used_t = {f[b"t"] for _id, f in kept}
        used_layouts = {f.get(b"layout", b"") for _id, f in kept}
        old_t = [t for t in times if t not in used_t]
        old_layouts = [d for d in layouts if d not in used_layouts]
        if old_t or old_layouts:
            with self.client.pipeline(transaction=False) as pipe:
                if old_t:
                    pipe.hdel(self.keys.vm_history_cpu, *old_t)
                if old_layouts:
                    pipe.hdel(self.keys.vm_history_layouts, *old_layouts)
                pipe.execute()

    # -- reading ---------------------------------------------------------------------
    def matrix(self, snapshot: Snapshot, window_s: float, step_s: float) -> FloatArray:
        now = snapshot.taken_at
        columns = max(1, round(window_s / step_s))
        current = np.fromiter((v.cpu_used for v in snapshot.vms), np.float64, len(snapshot.vms))
        out = np.full((len(snapshot.vms), columns), np.nan)
        out[:, -1] = current
        if columns > 1 and snapshot.vms:
            self._fill(out, snapshot, now, step_s)
        for k in range(columns - 2, -1, -1):  # oldest sample repeated back
            missing = np.isnan(out[:, k])
            out[missing, k] = out[missing, k + 1]
        return out

    def _fill(self, out: FloatArray, snapshot: Snapshot, now: float, step_s: float) -> None:
        columns = out.shape[1]
        entries = cast(Entries, self.client.xrange(self.keys.vm_history))
        samples = [(float(f[b"t"]), f) for _id, f in entries]
        samples = [(t, f) for t, f in samples if t < now - step_s / 2]
        if not samples:
            return
        times = np.array([t for t, _ in samples])
        chosen: dict[int, int] = {}  # column → sample
        for k in range(columns - 1):
            at = now - (columns - 1 - k) * step_s
            i = int(np.searchsorted(times, at + step_s / 2, side="right")) - 1
            if i >= 0:
                chosen[k] = i
        wanted = sorted(set(chosen.values()))
        blobs = self.client.hmget(self.keys.vm_history_cpu, [samples[i][1][b"t"] for i in wanted])
        cpu_of = dict(zip(wanted, cast(list[bytes | None], blobs), strict=True))
        index = {v.name: i for i, v in enumerate(snapshot.vms)}
        rows_of: dict[bytes, tuple[IntArray, npt.NDArray[np.bool_]] | None] = {}
        d = zstandard.ZstdDecompressor()
        for k, i in chosen.items():
            digest = samples[i][1].get(b"layout", b"")
            if digest not in rows_of:
                rows_of[digest] = self._rows(digest, index)
            mapping, blob = rows_of[digest], cpu_of[i]
            if mapping is None or blob is None:
                continue
            rows, known = mapping
            try:
                cpu = np.frombuffer(d.decompress(blob), np.float32)
            except zstandard.ZstdError as exc:
                log.warning("history sample at %s is damaged (%s); skipped", times[i], exc)
                continue
            if len(cpu) == len(known):  # else a damaged sample: the column stays unknown
                out[rows, k] = cpu[known]
        # Keep the layouts still in use (a layout stays the same while the VM set does).
        self._layouts = {d: n for d, n in self._layouts.items() if d in rows_of}

    def _rows(
        self, digest: bytes, index: dict[str, int]
    ) -> tuple[IntArray, npt.NDArray[np.bool_]] | None:
        """For a layout: the snapshot rows of its VMs it still has, and which ones."""
        names = self._layouts.get(digest)
        if names is None:
            blob = cast(bytes | None, self.client.hget(self.keys.vm_history_layouts, digest))
            if blob is None:
                return None
            try:
                names = _names_decoder.decode(zstandard.ZstdDecompressor().decompress(blob))
            except (zstandard.ZstdError, msgspec.DecodeError) as exc:
                log.warning("history layout %s is damaged (%s); skipped", digest, exc)
                return None
            self._layouts[digest] = names
        rows = np.fromiter((index.get(n, -1) for n in names), np.int64, len(names))
        known = rows >= 0
        return rows[known], known
