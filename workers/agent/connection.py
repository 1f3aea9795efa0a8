"""Opening libvirt connections the agent can rely on.

- ``qemu:///session`` (and any ``.../session`` URI) is refused: session connections are
  unreliable for migration (the guide, 12.3).
- libvirt's default event loop runs in a daemon thread and every connection gets
  keepalive probes, so a hung or restarted daemon turns into an error within
  ``KEEPALIVE_INTERVAL_S * (KEEPALIVE_COUNT + 1)`` seconds instead of a call that never returns.
- libvirt's habit of printing every error on stderr is silenced; errors are raised, and
  the agent logs what it skipped.
"""

from __future__ import annotations

import logging
import threading

import libvirt

from balancer.core.filters.session_uri import is_session_uri
from balancer.errors import InputError, RetryableError

log = logging.getLogger(__name__)

KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3
#: libvirt error codes that mean the connection itself is gone, not one call refused.
_CONNECTION_LOST = frozenset(
    {
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_INVALID_CONN,
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_AUTH_FAILED,
    }
)

_setup_lock = threading.Lock()
_event_loop = threading.Event()  # set once the event loop thread runs


def _ignore_error(_ctx: object, _err: object) -> None:
    """libvirt's global error callback: the exception carries the error; print nothing."""


def _run_event_loop() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()


def setup_libvirt() -> None:
    """Once per process: quiet error printing and start the event loop thread."""
    with _setup_lock:
        if _event_loop.is_set():
            return
        libvirt.registerErrorHandler(_ignore_error, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=_run_event_loop, name="libvirt-events", daemon=True).start()
        _event_loop.set()


def check_uri(uri: str) -> None:
    if is_session_uri(uri):
        raise InputError(
            f"refusing {uri}: session connections are unreliable for migration; "
            "use a system connection (qemu:///system)",
            "--libvirt-uri",
        )


def open_connection(uri: str) -> libvirt.virConnect:
    """A connection with keepalive; ``RetryableError`` while the daemon is unreachable."""
    check_uri(uri)
    setup_libvirt()
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise RetryableError(f"cannot connect to {uri}: {exc.get_error_message()}") from None
    try:
        conn.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT)
    except libvirt.libvirtError as exc:  # drivers without a remote side (test:///)
        log.debug("no keepalive on %s: %s", uri, exc.get_error_message())
    return conn


def is_connection_lost(exc: libvirt.libvirtError, conn: libvirt.virConnect | None) -> bool:
    """Whether ``exc`` means the connection is gone (reconnect) rather than one refusal."""
    if exc.get_error_code() in _CONNECTION_LOST:
        return True
    try:
        return conn is not None and not conn.isAlive()
    except libvirt.libvirtError:
        return True


def close_quietly(conn: libvirt.virConnect | None) -> None:
    """Close a connection that may already be dead (its errors are expected)."""
    if conn is None:
        return
    try:
        conn.close()
    except libvirt.libvirtError as exc:
        log.debug("closing a dead libvirt connection: %s", exc.get_error_message())
