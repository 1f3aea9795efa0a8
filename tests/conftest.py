"""Shared pytest set-up: the lab fixtures (balancer/lab/pytest_plugin.py), a real
redis-server (tests/fixtures/redis_server.py), and Ctrl-C as a terminal delivers it."""

from __future__ import annotations

import signal

import pytest

pytest_plugins = ["balancer.lab.pytest_plugin", "tests.fixtures.redis_server"]


def pytest_configure(config: pytest.Config) -> None:
    """SIGINT back to Python's handler when this run started with it ignored.

    A shell starts a background job (``make test``'s lab lane, ``pytest … &``) with SIGINT
    ignored, every process it starts inherits that, and a Python started with SIGINT
    ignored never raises KeyboardInterrupt: the tests that press Ctrl-C on ``demo``,
    ``status --watch`` or ``migrations --watch`` would wait in vain, and their processes
    would outlive them. With Python's handler here, what the tests start gets SIGINT's
    default (a handler is not inherited across exec, an ignored signal is), and Ctrl-C
    on ``make test`` stops the lab lane too.
    """
    del config
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
