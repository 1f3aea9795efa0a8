"""Run one blocking libvirt call (a migration) in a thread while the caller watches it.

    run = Background(lambda: dom.migrateToURI3(dest_uri, params, flags), "migrate g1")
    while not run.done():
        stats = dom.jobStats()          # libvirt connections may be shared by threads
    run.result(timeout=120)             # re-raises the call's exception, if any

The thread never lets an exception escape (it is kept and re-raised by ``result``), so a
failing migration shows up in the test that started it, not as a stray thread warning.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from balancer.lab.errors import LabTimeoutError


class Background:
    def __init__(self, call: Callable[[], object], what: str) -> None:
        self.what = what
        self._call = call
        self._value: object = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=what, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float) -> object:
        """The call's return value; its exception re-raised; ``LabTimeoutError`` if still
        running after ``timeout`` seconds."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise LabTimeoutError(f"{self.what} still running after {timeout:.0f}s")
        if self._error is not None:
            raise self._error
        return self._value
