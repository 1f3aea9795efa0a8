"""IPMI through ``ipmitool`` (lanplus); the password comes through the environment
(``-E`` reads ``IPMI_PASSWORD``), never on the command line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from workers.power.run import run


@dataclass(frozen=True)
class Ipmi:
    NAME = "ipmi"
    address: str
    user: str
    password_env: str = "IPMI_PASSWORD"

    @classmethod
    def from_spec(cls, spec: Mapping[str, str]) -> Ipmi:
        return cls(spec["address"], spec["user"], spec.get("password_env", "IPMI_PASSWORD"))

    def argv(self, action: str) -> list[str]:
        return ["ipmitool", "-I", "lanplus", "-H", self.address, "-U", self.user, "-E",
                "chassis", "power", action]  # fmt: skip

    def _env(self) -> dict[str, str]:
        return {**os.environ, "IPMI_PASSWORD": os.environ.get(self.password_env, "")}

    def power_on(self) -> None:
        run(self.argv("on"), self._env())

    def power_off(self) -> None:
        run(self.argv("soft"), self._env())
