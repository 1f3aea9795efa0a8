"""ssh + systemd: ``systemctl poweroff`` on the host (batch mode: keys only, no prompts).
Power-on is impossible over ssh to a host that is off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from balancer.errors import PermanentError
from workers.power.run import run


@dataclass(frozen=True)
class SshSystemd:
    NAME = "ssh"
    target: str  # user@host
    port: int = 22

    @classmethod
    def from_spec(cls, spec: Mapping[str, str]) -> SshSystemd:
        return cls(spec["target"], int(spec.get("port", 22)))

    def argv(self, *command: str) -> list[str]:
        return ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p", str(self.port),
                self.target, "--", *command]  # fmt: skip

    def power_on(self) -> None:
        raise PermanentError("ssh cannot power a host on (use IPMI or Wake-on-LAN)")

    def power_off(self) -> None:
        run(self.argv("systemctl", "poweroff"))
