"""The one exception tree of kvm-balancer.

    BalancerError
     ├── InputError            bad input from a user or a file; the CLI exits 2
     │    ├── SnapshotError    a snapshot document that is malformed or inconsistent
     │    └── TraceError       a workload trace that is missing, unreadable or malformed
     ├── IncompleteError       done in part: what was asked is not all done (VMs left
     │                         on a host to be emptied, a wait that ran out); CLI exit 3
     ├── RetryableError        a transient failure: the same call may succeed later
     │    └── BusyError        a VM lease or a host/cluster migration slot is held
     ├── RefusedError          the fence refused an action: recorded as such, never as a
     │    │                    failure, never retried
     │    ├── FencedError      the order's epoch is no longer the leader's
     │    └── CancelledError   the move (or its plan) was cancelled
     └── PermanentError        retrying cannot help; the operation failed for good
          ├── PreflightError          a move no longer fits (VM moved, CPU refused)
          ├── MigrationAbortedError   a migration aborted; the VM runs on its source
          ├── VerifyError             after a migration the VM is not where it should be
          └── PowerRefusedError       a power action refused (domains left, no heartbeat)

Every error carries a human message; ``InputError`` also names the offending field path
(``hosts[3].cpu.vendor``) so a user can find it in the document. Nothing catches
``BalancerError`` to return ``None``: errors travel to the edge (the CLI, a Celery task)
and are reported there.
"""

from __future__ import annotations


class BalancerError(Exception):
    """Base of every error kvm-balancer raises on purpose."""


class InputError(BalancerError):
    """Input that cannot be used; ``path`` names where in the document it went wrong."""

    def __init__(self, message: str, path: str = "") -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class SnapshotError(InputError):
    """A snapshot document that is malformed JSON, mistyped or inconsistent."""


class TraceError(InputError):
    """A workload trace (PlanetLab day, GCD archive, Bitbrains file) that cannot be used."""


class PluginError(BalancerError, ValueError):
    """A constraint or objective that cannot be registered (a name taken, a kind or
    priority out of range) or unregistered (a built-in objective): a plugin author's
    mistake, raised when the plugin is loaded."""


class IncompleteError(BalancerError):
    """The command ran but could not do all it was asked (the CLI exits 3): VMs stay on a
    host to be emptied, or a wait ran out before the work was done."""


class RetryableError(BalancerError):
    """A transient failure (a connection dropped, a lock held): retry with backoff."""


class PermanentError(BalancerError):
    """A failure that retrying cannot fix (a VM that cannot move, a refused action)."""


class OrderError(PermanentError):
    """A task payload that is not a valid order (a field missing, of the wrong type or out
    of bounds): refused as it is, never retried."""


class RefusedError(BalancerError):
    """The fence refused an action (``result`` says why): not a failure, not retried."""

    result = "refused"


class FencedError(RefusedError):
    """The order's fencing epoch is no longer the current one: a newer leader rules."""

    result = "fenced"


class CancelledError(RefusedError):
    """The move, the power action or its plan was cancelled before the action."""

    result = "cancelled"


class BusyError(RetryableError):
    """A VM lease or a migration slot is held by someone else: retry later."""


class PreflightError(PermanentError):
    """A move that no longer fits: the VM is elsewhere, the destination refuses its CPU."""


class MigrationAbortedError(PermanentError):
    """A migration aborted (completion timeout, failed job); the VM runs on its source."""


class VerifyError(PermanentError):
    """After a migration the VM is not running and persistent on the destination only."""


class PowerRefusedError(PermanentError):
    """A power action refused: domains still on the host, or no heartbeat after power-on."""
