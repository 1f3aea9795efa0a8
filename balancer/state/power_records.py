"""What the balancer did to a host's power, as the workers record it
(``kvmb:ctl:power``, host → JSON), and how a snapshot reads it.

- ``off``: a worker powered the host off (its agent falls silent, its heartbeat expires):
  the snapshot shows it ``off`` — a candidate for power-on — not ``failed``.
- ``booting``: a worker powered it on; until its agent reports it stays ``off`` in the
  snapshot (reason ``booting``), so nothing is placed on it yet.

A record is moot once the host's agent reported *after* it and its heartbeat holds (the
host is on and says so): the snapshot then goes by the report, and the daemon deletes
the record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal

import msgspec

log = logging.getLogger(__name__)

PowerState = Literal["off", "booting"]
#: ``Host.state_reason`` of a host the balancer powered off, and of one booting.
POWERED_OFF = "powered-off"
BOOTING = "booting"


class PowerRecord(msgspec.Struct, frozen=True, kw_only=True):
    state: PowerState
    #: When the worker acted (the workers' clock, Unix seconds or the fleet's time).
    at: float
    #: The fencing epoch the action ran under (``None``: an operator's).
    epoch: int | None = None


_decoder = msgspec.json.Decoder(PowerRecord)


def decode_power(raw: Mapping[bytes, bytes]) -> dict[str, PowerRecord]:
    """The records that decode; a malformed one is logged and left out."""
    out: dict[str, PowerRecord] = {}
    for k, v in raw.items():
        host = k.decode(errors="replace")
        try:
            out[host] = _decoder.decode(v)
        except msgspec.DecodeError as exc:
            log.warning("power record of %s does not decode (%s); ignored", host, exc)
    return out


def power_state(
    record: PowerRecord | None, reported_at: float, alive: bool = True
) -> tuple[str, str] | None:
    """The state and reason a power record gives a host whose last report was collected
    at ``reported_at`` (``alive``: its heartbeat holds); ``None`` when there is no record
    or it is moot: the host reports, and did since the record."""
    if record is None or (alive and reported_at > record.at):
        return None
    return "off", POWERED_OFF if record.state == "off" else BOOTING
