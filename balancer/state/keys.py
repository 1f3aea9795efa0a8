"""The Redis key schema, version 1 (docs/state-schema.md): every key name in one place.

All keys start with a prefix (default ``kvmb``) so one Redis can serve several clusters
and an ACL can confine a user to them (``~kvmb:*``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Version of the key schema and of the report encoding; stored under ``<prefix>:schema``.
SCHEMA_VERSION = 1
DEFAULT_PREFIX = "kvmb"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    @property
    def schema(self) -> str:
        """STRING: the schema version, ``"1"``."""
        return f"{self.prefix}:schema"

    @property
    def generation(self) -> str:
        """STRING: an integer incremented by every published report."""
        return f"{self.prefix}:generation"

    @property
    def hosts(self) -> str:
        """SET: every host that ever reported (until an operator forgets it)."""
        return f"{self.prefix}:hosts"

    def report(self, host: str) -> str:
        """STRING: the host's latest report, msgpack (no expiry: a dead host stays known)."""
        return f"{self.prefix}:host:{host}:report"

    def alive(self, host: str) -> str:
        """STRING with a TTL: the heartbeat; gone means the host is stale."""
        return f"{self.prefix}:host:{host}:alive"

    def history(self, host: str) -> str:
        """STREAM, MAXLEN-bounded: per-VM samples of the host's last reports."""
        return f"{self.prefix}:host:{host}:history"

    @property
    def host_state(self) -> str:
        """HASH host → JSON ``HostOverride``: operator states (maintenance, draining, ...)."""
        return f"{self.prefix}:op:host-state"

    @property
    def rules(self) -> str:
        """HASH rule id → JSON rule (affinity, anti-affinity, pin)."""
        return f"{self.prefix}:op:rules"

    @property
    def policy(self) -> str:
        """STRING: JSON ``Policy`` (absent: the defaults)."""
        return f"{self.prefix}:op:policy"

    @property
    def vm_labels(self) -> str:
        """HASH VM → JSON object of labels, merged over the labels the agent reports."""
        return f"{self.prefix}:op:vm-labels"

    @property
    def vm_migrated(self) -> str:
        """SORTED SET VM → epoch seconds of its last migration (the executor); a snapshot
        reads only the entries within the policy's cool-down."""
        return f"{self.prefix}:vm-migrated"

    def vm_resident(self, host: str) -> str:
        """HASH VM → MiB of non-zero memory its last migration measured, for the VMs on
        ``host`` (the executor writes it, the host's agent puts it in its report)."""
        return f"{self.prefix}:host:{host}:vm-resident-mib"


DEFAULT_KEYS = Keys()
