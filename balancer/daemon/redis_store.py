"""The ``CycleStore`` port on Redis: the cycle's memory, its records and the operators'
intents. Writes are fenced: a daemon that no longer holds the current epoch writes
nothing (one script checks the epoch and writes, atomically).

    kvmb:ctl:memory       STRING JSON CycleMemory
    kvmb:ctl:last-cycle   STRING JSON CycleRecord
    kvmb:ctl:cycles       STREAM (MAXLEN ~ CYCLES_KEPT) field ``cycle``
"""

from __future__ import annotations

import logging

import msgspec
import redis

from balancer.control.intents import Evacuation, Intents
from balancer.control.memory import CycleMemory
from balancer.control.records import CycleRecord
from balancer.state.intents_store import read_intents, update_evacuations
from balancer.state.keys import Keys

log = logging.getLogger(__name__)

CYCLES_KEPT = 10_000

#: KEYS: epoch, memory, last-cycle, cycles. ARGV: epoch, memory, record, maxlen.
_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'cycle', ARGV[3])
return 1
"""

_memory = msgspec.json.Decoder(CycleMemory)
_encoder = msgspec.json.Encoder()


class RedisCycleStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client, self.keys = client, keys
        self._save = client.register_script(_SAVE)
        #: Each evacuation as last read, for the compare-and-set of updates.
        self._raw: dict[str, bytes] = {}

    def load(self) -> CycleMemory:
        raw = self.client.get(self.keys.memory)
        if raw is None:
            return CycleMemory()
        try:
            return _memory.decode(raw)
        except msgspec.DecodeError as exc:
            log.warning(
                "%s does not decode (%s); starting from a fresh memory", self.keys.memory, exc
            )
            return CycleMemory()

    def save(self, memory: CycleMemory, record: CycleRecord, epoch: int) -> bool:
        k = self.keys
        done = self._save(
            keys=[k.epoch, k.memory, k.last_cycle, k.cycles],
            args=[str(epoch), _encoder.encode(memory), _encoder.encode(record), CYCLES_KEPT],
        )
        return bool(int(done))

    def intents(self) -> Intents:
        stored = read_intents(self.client, self.keys)
        self._raw = stored.raw
        return stored.intents

    def update_evacuations(self, evacuations: tuple[Evacuation, ...], epoch: int) -> bool:
        updates = [(e.id, self._raw.get(e.id), e) for e in evacuations]
        return update_evacuations(self.client, self.keys, updates, epoch) is not None


def last_cycle(client: redis.Redis, keys: Keys) -> CycleRecord | None:
    raw = client.get(keys.last_cycle)
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw, type=CycleRecord)
    except msgspec.DecodeError:
        log.warning("%s does not decode; ignored", keys.last_cycle)
        return None
