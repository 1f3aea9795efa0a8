"""A simulated host's power state (``Keys.sim_power``): on, off, or booting since a time
and ready (reporting, accepting VMs) from ``ready_at`` on (pure)."""

from __future__ import annotations

from typing import Literal

import msgspec

PowerName = Literal["on", "off", "booting"]


class PowerState(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    state: PowerName
    #: Fleet time of the last change.
    since: float
    #: Booting: fleet time the host is up (its first report).
    ready_at: float | None = None

    def effective(self, now: float) -> PowerName:
        """``on`` once a booting host is ready."""
        if self.state == "booting" and self.ready_at is not None and self.ready_at <= now:
            return "on"
        return self.state


_decoder = msgspec.json.Decoder(PowerState)


def decode_power(raw: bytes | str) -> PowerState:
    return _decoder.decode(raw)


def encode_power(state: PowerState) -> bytes:
    return msgspec.json.encode(state)
