"""Redis users made by ``balancer acl roles`` and ``balancer acl agent`` on a real
redis-server, applied with ``redis-cli`` exactly as printed; URLs for each user."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from typing import Any

import redis

from balancer.state.keys import SCHEMA_VERSION, Keys
from tests.fixtures.redis_server import RedisServer
from tests.integration.agent_processes import balancer

_LINE = re.compile(r"ACL SETUSER (\S+) reset on >(\S+) ")


@dataclass(frozen=True)
class AclUsers:
    server: RedisServer
    passwords: dict[str, str]

    def url(self, user: str) -> str:
        return self.server.url_for(user, self.passwords[user])

    def admin(self) -> redis.Redis:
        """The default user (TLS when the server listens with it)."""
        return admin(self.server)

    def acl_log(self) -> list[dict[str, Any]]:
        """The server's ACL LOG (denied commands), read as the admin."""
        with self.admin() as client:
            entries: list[dict[str, Any]] = client.acl_log(count=1000)
        return entries


def acl_denials(users: AclUsers) -> list[str]:
    """``user: command on object`` for every ACL LOG entry: empty when nothing was refused."""
    return [
        f"{e['username']}: {e['reason']} {e['object']} ({e['context']}, "
        f"{_field(e['client-info'], 'cmd')})"
        for e in users.acl_log()
    ]


def _field(info: str | dict[str, Any], name: str) -> str:
    """A field of an entry's ``client-info`` (redis-py parses it into a dict)."""
    if isinstance(info, dict):
        return str(info.get(name, ""))
    return next((f.split("=", 1)[1] for f in info.split() if f.startswith(f"{name}=")), "")


def denied_count(users: AclUsers) -> int:
    """How many commands were refused (ACL LOG merges repeats into one entry's count)."""
    return sum(int(e["count"]) for e in users.acl_log())


def apply_acl(server: RedisServer, *hosts: str, fleet: bool = False) -> AclUsers:
    """``balancer acl roles`` and ``balancer acl agent HOST…`` piped to ``redis-cli``
    (every line answered OK), the schema marked by the admin."""
    printed = balancer("acl", "roles", *(["--fleet"] if fleet else []))
    assert printed.returncode == 0, printed.stderr
    text = printed.stdout
    if hosts:
        agents = balancer("acl", "agent", *hosts)
        assert agents.returncode == 0, agents.stderr
        text += agents.stdout
    cli = subprocess.run(
        ["redis-cli", "-p", str(server.port), *(_tls_args(server))],
        input=text, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.split() == ["OK"] * len(text.splitlines()), cli.stdout
    with admin(server) as client:
        client.set(Keys().schema, str(SCHEMA_VERSION))
        client.acl_log_reset()
    return AclUsers(server, dict(_LINE.findall(text)))


def admin(server: RedisServer) -> redis.Redis:
    client: redis.Redis = redis.Redis.from_url(server.url, socket_timeout=10)
    return client


def _tls_args(server: RedisServer) -> list[str]:
    if server.tls is None:
        return []
    return ["--tls", "--cacert", str(server.tls.ca)]
