"""Errors of the lab, as branches of the one tree in ``balancer.errors``.

BalancerError
 ├── InputError                 a bad guest or host spec (the CLI exits 2)
 └── PermanentError
      └── LabError              the lab could not do what was asked
           ├── LabUnavailableError   a component is missing (root, packages, guest build)
           └── LabTimeoutError       a daemon or guest did not get ready in time
"""

from __future__ import annotations

from balancer.errors import PermanentError


class LabError(PermanentError):
    """The lab could not start, stop or drive a host or a guest."""


class LabUnavailableError(LabError):
    """Something the lab needs is missing; the message says how to install it."""


class LabTimeoutError(LabError):
    """A daemon or a guest did not reach the expected state in time."""
