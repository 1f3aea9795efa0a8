"""Migrating from or to a libvirt session connection is unreliable (guide 12.3): refuse."""

from __future__ import annotations

from typing import ClassVar, Literal

from balancer.core.filters.base import FilterContext, Reads
from balancer.core.models import Host, Policy, Vm
from balancer.core.reasons import PASS, Reason, Verdict


def is_session_uri(uri: str) -> bool:
    path = uri.split("?", 1)[0].rstrip("/")
    return path.endswith("/session")


def session(host: Host, policy: Policy) -> bool:
    return is_session_uri(host.uri)


class SessionUriFilter:
    NAME: ClassVar[str] = "session-uri"
    KIND: ClassVar[Literal["host"]] = "host"
    READS: ClassVar[Reads] = Reads(source=(session,), dest=(session,))

    def check(self, vm: Vm, dest: Host, ctx: FilterContext) -> Verdict:
        for host in (ctx.source(vm), dest):
            if is_session_uri(host.uri):
                return Verdict.reject(
                    Reason.SESSION_URI, f"{host.name} uses a session connection ({host.uri})"
                )
        return PASS
