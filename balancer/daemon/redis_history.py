"""The ``LoadHistory`` port on Redis: each VM's CPU demand over the last window, by VM
name, so a migrated VM's samples follow it (an agent's own history is per host).

    kvmb:ctl:history   STREAM, one entry per sample: ``t`` (the cycle's clock),
                       ``names`` (zstd msgpack list) and ``cpu`` (zstd float32, aligned)

The leading daemon records a sample at most every ``step_s`` and keeps the entries that
cover ``keep_s``; a new leader reads the same stream, so forecasts survive a leader
change. The matrix has one column per ``step_s`` ending with the snapshot's own demand;
a column takes the latest sample at or before its time (half a step of tolerance), so a
gap in the samples (the daemon was down) holds the last one; a VM known for less long has
its oldest sample repeated back to the window's start, and a damaged entry is skipped.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import cast

import msgspec
import numpy as np
import redis
import zstandard

from balancer.control.ports import FloatArray
from balancer.core.models import Snapshot
from balancer.state.keys import Keys

log = logging.getLogger(__name__)
_names_encoder = msgspec.msgpack.Encoder()
_names_decoder = msgspec.msgpack.Decoder(list[str])


class RedisHistory:
    def __init__(self, client: redis.Redis, keys: Keys, *, step_s: float, keep_s: float) -> None:
        if not (0 < step_s < math.inf) or not (0 <= keep_s < math.inf):
            raise ValueError(f"step_s {step_s} and keep_s {keep_s} must be finite, step_s > 0")
        self.client, self.keys = client, keys
        self.step_s, self.keep_s = step_s, keep_s
        self._keep = max(2, math.ceil(keep_s / step_s) + 2)

    def record(self, snapshot: Snapshot) -> None:
        last = cast(list[tuple[bytes, dict[bytes, bytes]]], self.client.xrevrange(
            self.keys.vm_history, count=1
        ))  # fmt: skip
        if last and snapshot.taken_at - float(last[0][1][b"t"]) < self.step_s * 0.999:
            return
        names = [v.name for v in snapshot.vms]
        cpu = np.fromiter((v.cpu_used for v in snapshot.vms), np.float32, len(names))
        z = zstandard.ZstdCompressor(level=3)
        self.client.xadd(
            self.keys.vm_history,
            {
                "t": repr(snapshot.taken_at),
                "names": z.compress(_names_encoder.encode(names)),
                "cpu": z.compress(cpu.tobytes()),
            },
            maxlen=self._keep,
            approximate=False,
        )

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
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]], self.client.xrange(self.keys.vm_history)
        )
        samples = [(float(f[b"t"]), f) for _id, f in entries]
        samples = [(t, f) for t, f in samples if t < now - step_s / 2]
        if not samples:
            return
        index = {v.name: i for i, v in enumerate(snapshot.vms)}
        d = zstandard.ZstdDecompressor()
        rows_by_names: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        times = np.array([t for t, _ in samples])
        for k in range(columns - 1):
            at = now - (columns - 1 - k) * step_s
            i = int(np.searchsorted(times, at + step_s / 2, side="right")) - 1
            if i < 0:
                continue
            fields = samples[i][1]
            try:
                digest = hashlib.blake2b(fields[b"names"], digest_size=16).digest()
                mapping = rows_by_names.get(digest)
                if mapping is None:
                    names = _names_decoder.decode(d.decompress(fields[b"names"]))
                    rows = np.fromiter((index.get(n, -1) for n in names), np.int64, len(names))
                    known = rows >= 0
                    mapping = rows_by_names[digest] = (rows[known], known)
                rows, known = mapping
                cpu = np.frombuffer(d.decompress(fields[b"cpu"]), np.float32)
            except (KeyError, ValueError, zstandard.ZstdError, msgspec.DecodeError) as exc:
                log.warning("history entry at %s is damaged (%s); skipped", times[i], exc)
                continue
            if len(cpu) == len(known):  # else a damaged entry: the column stays unknown
                out[rows, k] = cpu[known]
