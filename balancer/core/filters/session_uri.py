"""Migrating from or to a libvirt session connection is unreliable (guide 12.3): refuse."""

from __future__ import annotations

from typing import ClassVar

from balancer.core.filters.base import FilterContext, FilterKind
from balancer.core.models import Host, Vm
from balancer.core.reasons import PASS, Reason, Verdict


def is_session_uri(uri: str) -> bool:
    path = uri.split("?", 1)[0].rstrip("/")
    return path.endswith("/session")


class SessionUriFilter:
    NAME: ClassVar[str] = "session-uri"
    KIND: ClassVar[FilterKind] = "host"

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        for host in (ctx.source(vm), dest):
            if is_session_uri(host.uri):
                return Verdict.reject(
                    Reason.SESSION_URI, f"{host.name} uses a session connection ({host.uri})"
                )
        return PASS
