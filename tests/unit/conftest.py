"""Fixtures shared by the unit tests: a Redis-shaped fake for Redis-shaped logic only."""

from __future__ import annotations

from collections.abc import Iterator

import fakeredis
import pytest


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(server: fakeredis.FakeServer) -> Iterator[fakeredis.FakeRedis]:
    c = fakeredis.FakeRedis(server=server)
    yield c
    c.close()
