"""The one exception tree of kvm-balancer.

    BalancerError
     ├── InputError            bad input from a user or a file; the CLI exits 2
     │    └── SnapshotError    a snapshot document that is malformed or inconsistent
     ├── RetryableError        a transient failure: the same call may succeed later
     └── PermanentError        retrying cannot help; the operation failed for good

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


class RetryableError(BalancerError):
    """A transient failure (a connection dropped, a lock held): retry with backoff."""


class PermanentError(BalancerError):
    """A failure that retrying cannot fix (a VM that cannot move, a refused action)."""
