"""The power-driver Protocol (drivers: ``ipmi``, ``wol``, ``ssh``, ``lab``; see ``registry``)."""

from __future__ import annotations

from typing import Protocol


class PowerDriver(Protocol):
    NAME: str

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...
