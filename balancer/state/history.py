"""Reading the bounded per-VM history: each host's stream holds, per report, a compact
sample of every VM on it (one XADD per report instead of one per VM)."""

from __future__ import annotations

from typing import NamedTuple, cast

import redis

from balancer.state.keys import DEFAULT_KEYS, Keys
from balancer.state.report import VmSample, decode_samples


class HistoryPoint(NamedTuple):
    collected_at: float
    sample: VmSample


def vm_history(
    client: redis.Redis, host: str, vm: str, *, keys: Keys = DEFAULT_KEYS
) -> list[HistoryPoint]:
    """``vm``'s samples on ``host``, oldest first (at most the stream's MAXLEN)."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(keys.history(host)))
    points: list[HistoryPoint] = []
    for _id, fields in entries:
        for sample in decode_samples(fields[b"vms"]):
            if sample.name == vm:
                points.append(HistoryPoint(float(fields[b"t"]), sample))
    return points
