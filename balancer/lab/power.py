"""The power driver of a lab host: "off" stops the host's libvirtd, "on" starts it again.

A lab host is one libvirtd on a machine it shares with the other hosts, so its power is
its daemon: powered off, nothing answers at its URI (its agent cannot report, no guest
can run or arrive there), as with a real host that is off; powered on, the same daemon
comes back (same UUID, slot, pools, networks), its agent reports again and the guarded
power-on (``workers.power.actions``) sees the heartbeat. A worker powers lab hosts with
it when its ``BALANCER_POWER_FILE`` says ``{"lab-a": {"kind": "lab", "lab": LAB_DIR,
"host": "lab-a"}, ...}`` (``balancer lab demo`` writes that file). Both actions are
idempotent (a task retried after a crash does no harm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from balancer.errors import PowerRefusedError
from balancer.lab.errors import LabError
from balancer.lab.lab import Lab

#: Seconds a powered-on lab host's libvirtd has to answer.
BOOT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LabPower:
    NAME = "lab"
    lab: Path
    host: str

    @classmethod
    def from_spec(cls, spec: Mapping[str, str]) -> LabPower:
        return cls(Path(spec["lab"]), spec["host"])

    def power_on(self) -> None:
        the_lab = Lab(self.lab)
        try:
            the_lab.start_host_daemon(self.host, BOOT_TIMEOUT_S)
        finally:
            the_lab.close()

    def power_off(self) -> None:
        the_lab = Lab(self.lab)
        try:
            the_lab.stop_host_daemon(self.host)
        except LabError as exc:
            if "runs guests" in str(exc):
                raise PowerRefusedError(str(exc)) from exc
            raise
        finally:
            the_lab.close()


def power_file(lab: Path, hosts: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """What a worker's ``BALANCER_POWER_FILE`` holds to power these lab hosts."""
    return {h: {"kind": LabPower.NAME, "lab": str(lab), "host": h} for h in hosts}
