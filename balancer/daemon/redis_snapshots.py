"""The ``SnapshotSource`` port on Redis: ``Snapshot.from_redis`` at the cycle's time.

It also deletes the power records an agent's later report made moot (a host powered on
that reports again is simply on); compare-and-delete, so a record a worker writes
meanwhile is kept.
"""

from __future__ import annotations

import logging
from typing import cast

import redis

from balancer.core.models import Snapshot
from balancer.state.keys import Keys
from balancer.state.power_records import BOOTING, POWERED_OFF
from balancer.state.snapshot_read import snapshot_from_redis

log = logging.getLogger(__name__)

#: KEYS: power. ARGV: (host, value as read) pairs. Deletes each still holding that value.
_FORGET = """
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    n = n + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return n
"""


class RedisSnapshots:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client, self.keys = client, keys
        self._forget = client.register_script(_FORGET)

    def snapshot(self, now: float) -> Snapshot:
        records = cast(dict[bytes, bytes], self.client.hgetall(self.keys.power))
        snapshot = snapshot_from_redis(self.client, keys=self.keys, now=now)
        if records:
            self._forget_moot(snapshot, records)
        return snapshot

    def _forget_moot(self, snapshot: Snapshot, records: dict[bytes, bytes]) -> None:
        """Records of hosts the snapshot shows as their agent reports them."""
        held = {h.name for h in snapshot.hosts if h.state_reason in (POWERED_OFF, BOOTING)}
        args: list[bytes] = []
        for host, value in records.items():
            if host.decode(errors="replace") not in held:
                args += [host, value]
        if args:
            n = self._forget(keys=[self.keys.power], args=args)
            log.info("forgot %s moot power record(s)", n)
