"""Why a VM cannot go to a host, or cannot move at all: data the CLI prints and the
exporter counts (a rejection is never a bare ``False``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    # A destination host is rejected for a VM (filters).
    HOST_NOT_ACTIVE = "host-not-active"
    SAME_HOST = "same-host"
    SESSION_URI = "session-uri"
    CPU_VENDOR = "cpu-vendor-mismatch"
    CPU_MODEL = "cpu-model-unavailable"
    CPU_FEATURES = "cpu-features-missing"
    NUMA = "numa-topology"
    STORAGE_NOT_SHARED = "storage-not-shared"
    STORAGE_POOL = "storage-pool-missing"
    NETWORK = "network-missing"
    VERSION = "version-path"
    MACHINE_TYPE = "machine-type-unavailable"
    CPU_CAPACITY = "insufficient-cpu"
    MEMORY_CAPACITY = "insufficient-memory"
    AFFINITY = "affinity"
    ANTI_AFFINITY = "anti-affinity"
    PIN = "pinned"
    #: A constraint registered from outside the core (``filters.register``) refuses;
    #: its detail names the rule.
    CONSTRAINT = "constraint"
    # A VM cannot move at all.
    PASSTHROUGH = "passthrough-device"
    SOURCE_FAILED = "source-host-failed"
    COOLDOWN = "cooldown"
    NO_DESTINATION = "no-destination"
    ORDERING = "ordering-deadlock"
    MIGRATION_LIMIT = "max-migrations"
    BUSY = "busy"  # migrating now, or held by a plan under way
    HELD = "held"  # its host's evacuation was cancelled: it neither gives nor takes


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer of one filter: ``ok``, or the reason and a sentence saying why not."""

    ok: bool
    reason: Reason | None = None
    detail: str = ""

    @staticmethod
    def reject(reason: Reason, detail: str) -> Verdict:
        return Verdict(False, reason, detail)


PASS = Verdict(True)
