"""libvirt calls as the executor needs them: errors translated into the one error tree,
and a blocking migration call run in a daemon thread."""

from __future__ import annotations

import threading
from typing import Any

import libvirt

from balancer.errors import MigrationAbortedError, PermanentError, RetryableError

_TRANSIENT = (libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_NO_CONNECT)


def translate(exc: libvirt.libvirtError, what: str) -> Exception:
    """A libvirt error as one of ours: aborted, retryable (connection) or permanent."""
    code = exc.get_error_code()
    if code == libvirt.VIR_ERR_OPERATION_ABORTED:
        return MigrationAbortedError(f"{what}: {exc}")
    if code in _TRANSIENT:
        return RetryableError(f"{what}: {exc}")
    return PermanentError(f"{what}: {exc}")


def ignore_errors(_ctx: object, _err: object) -> None:
    return None


class ThreadRun:
    """A blocking libvirt call in a daemon thread; ``result`` re-raises its error as ours."""

    def __init__(self, call: Any, what: str) -> None:
        self.what = what
        self._error: libvirt.libvirtError | None = None
        self._thread = threading.Thread(target=self._body, args=(call,), name=what, daemon=True)
        self._thread.start()

    def _body(self, call: Any) -> None:
        try:
            call()
        except libvirt.libvirtError as exc:
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise translate(self._error, self.what) from self._error
