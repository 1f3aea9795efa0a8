"""Redis clients from URLs (``redis://``, ``rediss://`` with TLS, ``unix://``), with
timeouts so no call blocks forever, and URLs made safe to log.

Credentials come in the URL (``rediss://agent:secret@host:6380/0?ssl_ca_certs=/ca.pem``)
or, to keep them off the command line, in ``BALANCER_REDIS_URL``; they are never logged:
log ``redact_url(url)``. ``redis_error`` turns a Redis error into the one line a user
sees (a missing password says that a password is needed).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from balancer.errors import BalancerError, InputError, RetryableError

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_TIMEOUT_S = 5.0
_SCHEMES = ("redis", "rediss", "unix")
_SECRET_PARAMS = ("password", "ssl_password")


def redact_url(url: str) -> str:
    """``rediss://agent:secret@h:6380/0`` → ``rediss://agent:***@h:6380/0``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        # Without a colon the one part may still be a secret mistaken for a user name.
        netloc = f"{user}:***@{host}" if has_password else f"***@{host}"
    query = "&".join(
        f"{k}=***" if k in _SECRET_PARAMS else (f"{k}={v}" if sep else k)
        for k, sep, v in (p.partition("=") for p in parts.query.split("&") if p)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_url(url: str) -> None:
    """A Redis URL this client understands, or ``InputError`` saying what is wrong."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _SCHEMES:
        raise InputError(
            f"not a Redis URL: {redact_url(url)} (use redis://, rediss:// or unix://)", "--redis"
        )
    try:
        path = urlsplit(url).path
    except ValueError as exc:
        raise InputError(f"bad Redis URL {redact_url(url)}: {exc}", "--redis") from None
    db = path.lstrip("/")
    if scheme != "unix" and db and not db.isdigit():
        raise InputError(
            f"bad Redis URL {redact_url(url)}: the database is a number (…:6379/0), not {db!r}",
            "--redis",
        )


def redis_error(exc: redis.RedisError, url: str) -> BalancerError:
    """The error to show for ``exc`` from the store at ``url``: a missing or refused
    password is bad input (``InputError``), anything else may pass (``RetryableError``)."""
    where = redact_url(url)
    text = str(exc)
    if isinstance(exc, redis.AuthenticationError) or text.startswith("NOAUTH"):
        has_password = bool(urlsplit(url).password) or "password=" in url
        if not has_password:
            return InputError(
                f"Redis at {where} needs a password: give it in the URL "
                "(redis://USER:PASSWORD@HOST:PORT/DB), best through BALANCER_REDIS_URL",
                "--redis",
            )
        return InputError(
            f"Redis at {where} refused the user name and password "
            "(wrong password, or the user is disabled)",
            "--redis",
        )
    if text.startswith("NOPERM"):
        return InputError(f"Redis at {where}: the user may not do this: {text}", "--redis")
    return RetryableError(f"Redis {where}: {text}")


def redis_from_url(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> redis.Redis:
    """A client that gives up after ``timeout_s`` and retries a dropped connection once."""
    check_url(url)
    try:
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
            health_check_interval=30,
        )
    except ValueError as exc:
        raise InputError(f"bad Redis URL {redact_url(url)}: {exc}", "--redis") from None
