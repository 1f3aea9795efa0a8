"""Operator facts the agents cannot know, as stored (JSON, readable with ``redis-cli``):
host state overrides, rules, the policy and VM labels. Decoding names the key at fault."""

from __future__ import annotations

from typing import Literal, TypeVar

import msgspec

from balancer.core.models import Policy, Rule
from balancer.errors import SnapshotError

OverrideState = Literal["maintenance", "draining", "off", "failed"]
#: The reason (``Host.state_reason``) given to a host whose heartbeat expired.
STALE = "stale"

T = TypeVar("T")


class HostOverride(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A state an operator put a host in; it wins over the agent's ``active``."""

    state: OverrideState
    reason: str = ""
    set_at: float = 0.0


_encoder = msgspec.json.Encoder()
_override = msgspec.json.Decoder(HostOverride)
_rule: msgspec.json.Decoder[Rule] = msgspec.json.Decoder(Rule)
_policy = msgspec.json.Decoder(Policy)
_labels = msgspec.json.Decoder(dict[str, str])


def encode_json(value: object) -> bytes:
    return _encoder.encode(value)


def _decode(decoder: msgspec.json.Decoder[T], data: bytes, where: str) -> T:
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise SnapshotError(f"bad value in the Redis store: {exc}", where) from None


def decode_override(data: bytes, where: str) -> HostOverride:
    return _decode(_override, data, where)


def decode_rule(data: bytes, where: str) -> Rule:
    return _decode(_rule, data, where)


def decode_policy(data: bytes, where: str) -> Policy:
    return _decode(_policy, data, where)


def decode_labels(data: bytes, where: str) -> dict[str, str]:
    return _decode(_labels, data, where)
