"""Wake-on-LAN: the magic packet (6 × 0xFF, then the MAC 16 times) over UDP broadcast.
There is no off through Wake-on-LAN: pair it with ssh + systemd for that."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from balancer.errors import InputError, PermanentError


def magic_packet(mac: str) -> bytes:
    digits = mac.replace(":", "").replace("-", "")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise InputError(f"{mac!r} is not a MAC address", "power.mac")
    return b"\xff" * 6 + raw * 16


@dataclass(frozen=True)
class WakeOnLan:
    NAME = "wol"
    mac: str
    broadcast: str = "255.255.255.255"
    port: int = 9

    @classmethod
    def from_spec(cls, spec: Mapping[str, str]) -> WakeOnLan:
        return cls(spec["mac"], spec.get("broadcast", "255.255.255.255"), int(spec.get("port", 9)))

    def power_on(self) -> None:
        packet = magic_packet(self.mac)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            s.sendto(packet, (self.broadcast, self.port))

    def power_off(self) -> None:
        raise PermanentError("Wake-on-LAN cannot power a host off (use ssh + systemd)")
