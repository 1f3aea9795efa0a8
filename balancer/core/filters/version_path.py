"""Supported migration paths (guide 12.9): forward and backward between minor releases
only, so the source and destination run the same major line of QEMU and of libvirt."""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import PASS, Reason, Verdict


def major(version: str) -> str:
    """The major line of a version string: ``"8.2.0-11.el9"`` → ``"8"``."""
    return version.strip().split(".", 1)[0]


def majors(host: Host, policy: Policy) -> tuple[str, str]:
    return major(host.versions.qemu), major(host.versions.libvirt)


class VersionPathFilter:
    NAME: ClassVar[str] = "version-path"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(source=(majors,), dest=(majors,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        src = ctx.source(vm).versions
        for part in ("qemu", "libvirt"):
            a, b = getattr(src, part), getattr(dest.versions, part)
            if major(a) != major(b):
                return Verdict.reject(
                    Reason.VERSION,
                    f"{part} {a} → {b} crosses a major release (only minor releases apart)",
                )
        return PASS
